// Edge timestamps per pin, in host nanoseconds (monotonic across resets).

const MAX_EDGES = 1 << 22; // per pin and direction; older ones are dropped beyond this

class TimeList {
  constructor() {
    this.t = new Float64Array(256);
    this.n = 0;
    this.dropped = 0;
  }

  push(ns) {
    if (this.n === this.t.length) {
      if (this.n >= MAX_EDGES) {
        const half = this.n >> 1;
        this.t.copyWithin(0, half, this.n);
        this.n -= half;
        this.dropped += half;
      } else {
        const grown = new Float64Array(this.t.length * 2);
        grown.set(this.t);
        this.t = grown;
      }
    }
    this.t[this.n++] = ns;
  }

  /** First index whose time is >= ns. */
  lowerBound(ns) {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.t[mid] < ns) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  range(since, until, limit) {
    const a = this.lowerBound(since);
    const b = Math.min(this.lowerBound(until), a + limit);
    return Array.from(this.t.subarray(a, b), Math.round);
  }
}

export class PinLog {
  constructor() {
    this.clear();
  }

  clear() {
    this.rising = new TimeList();
    this.falling = new TimeList();
    this.count = 0;
  }

  edge(level, ns) {
    if (level) {
      this.count++;
      this.rising.push(ns);
    } else {
      this.falling.push(ns);
    }
  }
}
