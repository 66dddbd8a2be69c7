# The font's source is drawn in firmware/pump/font.txt; this turns it into the bytes that
# pump/canvas.py holds (_FONT, _EXTRA). Runs on CPython and MicroPython (test_canvas uses it).
# Regenerate after editing the art: .venv/bin/python tests/core/fontart.py
import sys

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
ART = HERE + "/../../firmware/pump/font.txt"


def parse(text):
    """[(codepoint, name, [8 rows of 5 chars])] in file order."""
    glyphs = []
    for line in text.split("\n"):
        line = line.rstrip()
        if not line or line.startswith("# "):
            continue
        if line.startswith("= U+"):
            head = line[4:].split(" ", 1)
            glyphs.append((int(head[0], 16), head[1] if len(head) > 1 else "", []))
            continue
        rows = glyphs[-1][2]
        if len(line) != 5 or len(rows) == 8 or line.strip("#.") != "":
            raise ValueError("bad glyph row for U+%04X: %r" % (glyphs[-1][0], line))
        rows.append(line)
    for cp, _, rows in glyphs:
        if len(rows) < 7:
            raise ValueError("U+%04X has %d rows, needs 7 or 8" % (cp, len(rows)))
        while len(rows) < 8:
            rows.append(".....")
    return glyphs


def columns(rows):
    """The 5 column bytes of a glyph, bit n = row n (the SSD1306 page layout)."""
    out = bytearray(5)
    for y in range(8):
        for x in range(5):
            if rows[y][x] == "#":
                out[x] |= 1 << y
    return bytes(out)


def build(glyphs):
    """(font bytes, extra codepoints): ASCII 32-126 first, then the extras in order."""
    ascii_cps = [g[0] for g in glyphs[:95]]
    if ascii_cps != list(range(32, 127)):
        raise ValueError("the first 95 glyphs must be U+0020-U+007E in order")
    font = b"".join(columns(g[2]) for g in glyphs)
    return font, tuple(g[0] for g in glyphs[95:])


def load():
    with open(ART) as f:
        return build(parse(f.read()))


def main():
    font, extra = load()
    print("_EXTRA = (%s)" % ", ".join("0x%X" % c for c in extra))
    print("_FONT = (")
    for i in range(0, len(font), 30):
        print('    b"%s"' % "".join("\\x%02x" % b for b in font[i : i + 30]))
    print(")")


if __name__ == "__main__":
    main()
    sys.exit(0)
