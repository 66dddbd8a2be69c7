// UART1 of the virtual Pico on its own TCP port: the pump protocol's channel
// (firmware/protolink.py, firmware/pump/PROTOCOL.md), one client at a time.
//
// Both directions take wire time at the baud rate the firmware programmed: TX through
// timing.mjs's fixUart (every UART but the REPL's), RX here: a host byte enters the RX FIFO
// one character time after the previous one. A byte that arrives while the UART is not
// receiving (before the firmware opened it, or across a reset) is lost, as on the chip; a
// full RX FIFO holds the host's bytes back (as RTS/CTS flow control would) instead of
// overrunning. A connected client keeps simulated time running, paced, like a REPL client.
//
// A client that left in the middle of a line: the board halted meanwhile (no client), so
// without a gap the next client's first byte would follow the half line at once, where on a
// wire the wall time between the two hosts passes. The next client's bytes reach the wire
// no sooner than GAP_NS after that half line's last byte, so the firmware's quiet gap
// (protocol.GAP_MS) drops the half line, as a real board does.
import { createServer } from 'node:net';
import { uartReceiving } from './timing.mjs';

const GAP_NS = 1_500_000_000; // protocol.GAP_MS (1 s), its slow poll (100 ms) and a margin
const NEWLINE = 10;

export class ProtoUart {
  constructor(board, index = 1) {
    this.board = board;
    this.index = index;
    this.queue = []; // host bytes not yet in the RX FIFO
    this.head = 0;
    this.client = null;
    this.out = [];
    this.flushing = false;
    this.alarm = null;
    this.waiting = false; // the FIFO was full: the next byte goes in when the firmware reads
    this.stats = { rx: 0, tx: 0, lost: 0 };
    this.pushed = 0; // host bytes ever queued
    this.taken = 0; // host bytes ever taken from the queue (into the FIFO, or lost)
    this.lastByte = NEWLINE; // the last host byte queued
    this.lastNs = 0; // host time the last byte was taken
    this.gateAt = -1; // taken count at which a new client's first byte waits for GAP_NS
  }

  /** Wires the port to a (new) chip's UART: called by Board.makeChip on every reset. */
  attach(chip) {
    this.uart = chip.uart[this.index];
    this.uart.onByte = (b) => this.send(b);
    this.alarm = chip.clock.createAlarm(() => this.arrive());
    this.armed = false;
    this.waiting = false;
    this.arm();
  }

  get pending() {
    return this.queue.length - this.head;
  }

  /** Whether simulated time must run for this port: a client, or bytes still on the wire. */
  wants() {
    return this.client !== null || this.pending > 0;
  }

  input(bytes) {
    for (const b of bytes) {
      this.queue.push(b);
    }
    this.pushed += bytes.length;
    if (bytes.length > 0) {
      this.lastByte = bytes[bytes.length - 1];
    }
    this.arm();
    this.board.changed();
  }

  charNs() {
    return this.uart.vbTx.charNs();
  }

  arm() {
    if (!this.armed && !this.waiting && this.pending > 0 && this.uart) {
      this.armed = true;
      let delay = this.charNs();
      if (this.taken === this.gateAt) {
        this.gateAt = -1; // a new client after a half line: its first byte waits
        delay = Math.max(delay, this.lastNs + GAP_NS - this.board.now());
      }
      this.alarm.schedule(delay);
    }
  }

  /** One character's stop bit has ended. */
  arrive() {
    this.armed = false;
    const { uart } = this;
    if (!uartReceiving(uart)) {
      this.head++;
      this.stats.lost++;
    } else if (uart.rxFIFO.itemCount >= uart.rxFIFO.size) {
      this.waiting = true; // held back until the firmware reads (room)
      return;
    } else {
      uart.feedByte(this.queue[this.head++]);
      this.stats.rx++;
    }
    this.taken++;
    this.lastNs = this.board.now();
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      if (this.client === null) {
        this.board.changed(); // the last bytes of a closed client are in: time may halt
      }
    }
    this.arm();
  }

  /** The firmware read a byte (timing.mjs calls this on UARTDR reads). */
  room() {
    if (this.waiting) {
      this.waiting = false;
      this.arm();
    }
  }

  send(b) {
    this.stats.tx++;
    this.out.push(b);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => {
        this.flushing = false;
        const data = Buffer.from(this.out);
        this.out = [];
        this.client?.write(data); // nobody listening: gone, as on an unplugged wire
      });
    }
  }

  server() {
    return createServer((sock) => {
      if (this.client) {
        sock.end(); // one client at a time; a protocol client sees the line close
        return;
      }
      this.client = sock;
      if (this.lastByte !== NEWLINE) {
        this.gateAt = this.pushed; // the client before left mid-line
        this.lastByte = NEWLINE;
      }
      sock.setNoDelay(true);
      this.board.changed();
      sock.on('data', (data) => this.input(data));
      sock.on('error', () => {});
      sock.on('close', () => {
        if (this.client === sock) {
          this.client = null;
          this.board.changed();
        }
      });
    });
  }
}
