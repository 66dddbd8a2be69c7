# pump.canvas: the 1-bit 128x64 picture in the SSD1306's page layout, its font and clipping.
# Runs on CPython (pytest) and on the unix port (tests/upy_run.py).
import sys

import fontart

from harness import raises
from pump import canvas
from pump.canvas import Canvas


# Pixel sets hold y * 128 + x (small ints: the unix port's test heap is device-sized), and
# only points on the canvas: a shape's expected pixels are clipped like the canvas clips.
def lit(cv):
    return {y * 128 + x for y in range(64) for x in range(128) if cv.pixel(x, y)}


def box(x0, y0, x1, y1):
    return {
        y * 128 + x
        for y in range(max(y0, 0), min(y1, 64))
        for x in range(max(x0, 0), min(x1, 128))
    }


def pts(*xy):
    return {y * 128 + x for x, y in xy}


def art():
    with open(fontart.ART) as f:
        return {cp: rows for cp, _, rows in fontart.parse(f.read())}


def test_font_bytes_are_the_art():
    # canvas._FONT is generated from pump/font.txt (tests/core/fontart.py); they must agree.
    font, extra = fontart.load()
    assert canvas._FONT == font, "regenerate: .venv/bin/python tests/core/fontart.py"
    assert canvas._EXTRA == extra
    assert len(font) == 5 * (95 + len(extra))


def test_buffer_is_the_ssd1306_page_layout():
    cv = Canvas()
    assert len(cv.buf) == 1024 and cv.buf == bytearray(1024)
    cv.pixel(0, 0, 1)
    assert cv.buf[0] == 0x01
    cv.pixel(5, 7, 1)
    assert cv.buf[5] == 0x80
    cv.pixel(127, 63, 1)  # last column, page 7, bit 7
    assert cv.buf[1023] == 0x80
    cv.pixel(3, 18, 1)  # page 2, bit 2
    assert cv.buf[3 + 256] == 0x04
    assert lit(cv) == pts((0, 0), (5, 7), (127, 63), (3, 18))
    cv.pixel(3, 18, 0)
    assert cv.buf[3 + 256] == 0 and cv.pixel(3, 18) == 0 and cv.pixel(5, 7) == 1


def test_wraps_a_given_buffer_of_the_right_size_only():
    b = bytearray(1024)
    cv = Canvas(b)
    cv.pixel(1, 9, 1)
    assert b[129] == 0x02
    raises(ValueError, Canvas, bytearray(1023))


def test_pixel_off_the_canvas_is_ignored_and_reads_dark():
    cv = Canvas()
    for x, y in ((-1, 0), (128, 0), (0, -1), (0, 64), (-100, 500)):
        cv.pixel(x, y, 1)
        assert cv.pixel(x, y) == 0
    assert cv.buf == bytearray(1024)


def test_fill():
    cv = Canvas()
    cv.fill(1)
    assert cv.buf == bytearray(b"\xff" * 1024)
    cv.fill(0)
    assert cv.buf == bytearray(1024)


def test_lines_and_boxes_light_exactly_their_pixels():
    cv = Canvas()
    cv.hline(10, 5, 20, 1)
    assert lit(cv) == box(10, 5, 30, 6)
    cv.fill(0)
    cv.vline(7, 3, 30, 1)  # crosses pages 0-4 with partial first and last bytes
    assert lit(cv) == box(7, 3, 8, 33)
    cv.fill(0)
    cv.rect(2, 6, 10, 12, 1, fill=True)
    assert lit(cv) == box(2, 6, 12, 18)
    cv.fill(0)
    cv.rect(2, 6, 10, 12, 1)
    assert lit(cv) == box(2, 6, 12, 18) - box(3, 7, 11, 17)
    cv.fill(1)
    cv.rect(0, 0, 128, 64, 0)
    want = Canvas()  # built pixel by pixel (a set of 7,812 points outgrows the test heap)
    for y in range(1, 63):
        for x in range(1, 127):
            want.pixel(x, y, 1)
    assert cv.buf == want.buf


def test_shapes_are_clipped_at_every_edge():
    cv = Canvas()
    cv.rect(-5, -3, 10, 8, 1, fill=True)
    assert lit(cv) == box(0, 0, 5, 5)
    cv.fill(0)
    cv.rect(120, 60, 20, 20, 1, fill=True)
    assert lit(cv) == box(120, 60, 128, 64)
    cv.fill(0)
    cv.hline(-10, 70, 300, 1)
    cv.vline(200, 0, 64, 1)
    cv.rect(0, 0, 0, 5, 1, fill=True)
    cv.rect(0, 0, 5, -2, 1, fill=True)
    assert cv.buf == bytearray(1024)
    cv.hline(-10, 63, 300, 1)
    assert lit(cv) == box(0, 63, 128, 64)


def test_invert_swaps_a_box_and_twice_restores():
    cv = Canvas()
    cv.text("Rate", 0, 8)
    before = bytearray(cv.buf)
    on = lit(cv)
    cv.invert(0, 8, 30, 5)
    assert lit(cv) == (box(0, 8, 30, 13) - on) | (on - box(0, 8, 30, 13))
    cv.invert(0, 8, 30, 5)
    assert cv.buf == before
    cv.invert(0, 8, 128, 8)  # a highlighted line: page 1 is the text's complement
    assert cv.buf[128:256] == bytearray(b ^ 0xFF for b in before[128:256])
    assert cv.buf[:128] == before[:128] and cv.buf[256:] == before[256:]
    cv.invert(0, 8, 128, 8)
    cv.invert(-4, 60, 10, 10)
    assert lit(cv) == on | box(0, 60, 6, 64)


def test_line_draws_both_ends():
    cv = Canvas()
    cv.line(0, 0, 7, 7, 1)
    assert lit(cv) == {i * 129 for i in range(8)}
    cv.fill(0)
    cv.line(10, 2, 0, 2, 1)
    assert lit(cv) == box(0, 2, 11, 3)
    cv.fill(0)
    cv.line(3, 9, 5, 1, 1)
    got = lit(cv)
    assert pts((3, 9), (5, 1)) <= got and len(got) == 9


def glyph_pixels(rows, x, y, scale=1):
    out = set()
    for r in range(8):
        for k in range(5):
            if rows[r][k] == "#":
                out |= box(x + k * scale, y + r * scale, x + (k + 1) * scale, y + (r + 1) * scale)
    return out


def test_every_glyph_draws_its_art_at_any_row_offset():
    glyphs = art()
    cv = Canvas()
    for cp, rows in glyphs.items():
        for y in (0, 3, 8, 13):
            cv.fill(0)
            assert cv.char(cp, 40, y) == 46
            assert lit(cv) == glyph_pixels(rows, 40, y), "U+%04X at y=%d" % (cp, y)
        for y in (8, 13):  # dark ink on a lit band
            cv.fill(0)
            cv.rect(40, y, 6, 8, 1, fill=True)
            assert cv.char(cp, 40, y, 0) == 46
            want = box(40, y, 46, y + 8) - glyph_pixels(rows, 40, y)
            assert lit(cv) == want, "U+%04X dark at y=%d" % (cp, y)


def test_text_of_a_str_draws_what_char_draws():
    # text() draws a str's ASCII cells on a text line itself; the same as char() by char().
    glyphs = "".join(chr(c) for c in range(32, 127)) + "µ\u00e9"
    for y in (0, 16, 56, 3, -2):
        for x0 in (0, 2, -3, 100):
            a, b = Canvas(), Canvas()
            x = x0
            for ch in glyphs[x0 % 17 :]:
                x = b.char(ord(ch), x, y)
                if x >= 128:
                    break
            a.text(glyphs[x0 % 17 :], x0, y)
            assert a.buf == b.buf, "at %d, %d" % (x0, y)


def test_text_advances_six_per_character_and_is_transparent():
    cv = Canvas()
    cv.rect(0, 0, 14, 8, 1, fill=True)
    assert cv.text("AB", 0, 0, 0) == 12
    g = art()
    assert lit(cv) == box(0, 0, 14, 8) - glyph_pixels(g[65], 0, 0) - glyph_pixels(g[66], 6, 0)
    assert canvas.text_width("AB") == 12 and canvas.text_width("µg", 2) == 24


def test_micro_sign_from_str_and_utf8_bytes_and_unknowns_draw_the_replacement():
    a, b = Canvas(), Canvas()
    end = a.text("1632 µg/24 h", 0, 0)
    assert b.text("1632 µg/24 h".encode(), 0, 0) == end == 12 * 6
    assert a.buf == b.buf
    assert canvas.text_width("1632 µg/24 h".encode()) == end
    g = art()
    assert glyph_pixels(g[0xB5], 30, 0) <= lit(a)  # the 6th character
    c, d = Canvas(), Canvas()
    c.text("\u00e9\t", 0, 0)  # é and a tab: not in the font
    d.char(0xFFFD, 0, 0)
    d.char(0xFFFD, 6, 0)
    assert c.buf == d.buf
    e = Canvas()
    e.text(b"\x80A", 0, 0)  # a stray continuation byte
    assert lit(e) == glyph_pixels(g[0xFFFD], 0, 0) | glyph_pixels(g[65], 6, 0)


def test_scale_two_doubles_every_pixel():
    g = art()
    cv = Canvas()
    assert cv.text("8", 10, 5, 1, 2) == 22
    assert lit(cv) == glyph_pixels(g[56], 10, 5, 2)
    cv.fill(0)
    cv.text("0.5", 0, 48, 1, 2)  # the bottom half of a descender row falls off the canvas
    assert lit(cv) == glyph_pixels(g[48], 0, 48, 2) | glyph_pixels(g[46], 12, 48, 2) | (
        glyph_pixels(g[53], 24, 48, 2)
    )
    raises(ValueError, cv.text, "1", 0, 0, 1, 3)


def test_text_clipped_at_the_edges():
    g = art()
    cv = Canvas()
    cv.text("W", 125, -3)
    assert lit(cv) == glyph_pixels(g[87], 125, -3)
    cv.fill(0)
    cv.text("Wg", -8, 60)
    assert lit(cv) == glyph_pixels(g[87], -8, 60) | glyph_pixels(g[103], -2, 60)
    cv.fill(0)
    cv.text("far", 0, 64)
    cv.text("far", 0, -8)
    cv.text("far", 0, -40, 1, 2)
    assert cv.buf == bytearray(1024)


def test_rows_and_bits_agree_with_pixel():
    cv = Canvas()
    cv.text("OK", 3, 21)
    cv.pixel(127, 0, 1)
    bits = cv.to_bits()
    rows = cv.rows()
    assert len(bits) == 8192 and len(rows) == 64 and len(rows[0]) == 128
    for y in range(64):
        for x in range(128):
            assert bits[y * 128 + x] == cv.pixel(x, y)
            assert (rows[y][x] == "#") == (cv.pixel(x, y) == 1)


def draw_screen(cv, big, line):
    cv.fill(0)
    cv.text("Octreotide", 0, 0)
    cv.text(big, 0, 12, 1, 2)
    cv.text("µg/24h", 90, 20)
    cv.text(line, 0, 40)
    cv.invert(0, 40, 128, 8)
    cv.rect(100, 56, 26, 8, 1)
    cv.rect(101, 57, 10, 6, 1, fill=True)
    cv.hline(0, 34, 128, 1)
    cv.vline(127, 0, 10, 0)
    cv.line(0, 63, 20, 50, 1)


def test_drawing_does_not_allocate():
    # The UI redraws from the service step; on MicroPython, lock the heap around a redraw.
    if sys.implementation.name != "micropython":
        return  # CPython cannot lock its heap
    import micropython

    cv = Canvas()
    big, line = "1632", b"Rate 0.136 mL/h \xc2\xb5"
    draw_screen(cv, big, line)  # the str's characters become qstrs the first time
    first = bytearray(cv.buf)
    micropython.heap_lock()
    try:
        draw_screen(cv, big, line)
    finally:
        micropython.heap_unlock()
    assert cv.buf == first
