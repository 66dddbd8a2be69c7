# A test card for the 128x64 screen: every glyph of the font, the big digits, lines, boxes,
# an inverted band and pixels at the four corners. Drawn by the same code on CPython (the
# host's reference) and on the board (hil/test_display.py puts this file there).


def draw(cv):
    cv.fill(0)
    glyphs = "".join(chr(c) for c in range(32, 127)) + "µ°↑↓▶\U0001f512\U0001f514\ufffd"
    for i in range(0, len(glyphs), 21):
        cv.text(glyphs[i : i + 21], 0, (i // 21) * 8)
    cv.text("0.136", 0, 40, 1, 2)
    cv.text("mL/h", 62, 46)
    cv.invert(0, 32, 128, 8)
    cv.rect(90, 40, 38, 24, 1)
    cv.rect(93, 43, 10, 6, 1, fill=True)
    cv.line(104, 44, 125, 61, 1)
    cv.hline(0, 58, 60, 1)
    cv.vline(86, 40, 24, 1)
    for x, y in ((0, 0), (127, 0), (0, 63), (127, 63)):
        cv.pixel(x, y, 1)
