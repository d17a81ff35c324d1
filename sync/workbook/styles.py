"""xl/styles.xml: find or add the cell formats a patch needs (quote prefix, the owned sheets' look).

Formats are compared with their attributes sorted (`_canon`), so an identical `cellXfs` entry is
reused and only a missing one is appended; the rest of styles.xml stays byte-identical.
"""

from __future__ import annotations

import re

from sync.sheet import XLSX_QUOTE_PREFIX
from sync.workbook.cells import ATTR, PREFIX
from sync.workbook.cells import attrs as _attrs


def needs_quote(value: str) -> bool:
    """True when a text cell holding `value` needs the quote prefix (it would read as a formula)."""
    return value[:1] in XLSX_QUOTE_PREFIX


def _canon(item: str) -> str:
    """An XML fragment with its attributes sorted and the blanks between tags dropped (for comparing)."""

    def tag(m: re.Match[str]) -> str:
        attrs = sorted((k, v or w) for k, v, w in ATTR.findall(m.group(2)))
        return "<" + m.group(1) + "".join(f' {k}="{v}"' for k, v in attrs) + m.group(3) + ">"

    item = re.sub(r">\s+<", "><", item.strip())
    return re.sub(r"<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*(/?)>", tag, item)


class _Section:
    """One list in styles.xml (fonts, fills, cellXfs): its items, and items to append."""

    def __init__(self, xml: str, name: str, item: str) -> None:
        self.found = False
        self.items: list[str] = []
        self.added: list[str] = []
        self.prefix = ""
        match = re.search(rf"<({PREFIX}){name}\b[^>]*?(/?)>", xml)
        if match is None:
            return
        self.found = True
        self.prefix = match.group(1)
        self.open_start, self.open_end = match.start(), match.end()
        self.open_tag = match.group(0)
        if match.group(2):  # <cellXfs/>
            self.close_start = self.close_end = match.end()
            self.empty = True
        else:
            self.empty = False
            close = f"</{self.prefix}{name}>"
            self.close_start = xml.find(close, match.end())
            self.close_end = self.close_start + len(close)
        inner = "" if self.empty else xml[self.open_end : self.close_start]
        pattern = rf"<{re.escape(self.prefix)}{item}\b[^>]*?/>|<{re.escape(self.prefix)}{item}\b[^>]*?>.*?</{re.escape(self.prefix)}{item}>"
        self.items = [m.group(0) for m in re.finditer(pattern, inner, re.DOTALL)]
        self.name = name
        self.canon = [_canon(i) for i in self.items]

    def index(self, item: str) -> int:
        """Position of an item equal to `item`, appending it if there is none."""
        c = _canon(item)
        if c in self.canon:
            return self.canon.index(c)
        self.items.append(item)
        self.canon.append(c)
        self.added.append(item)
        return len(self.items) - 1

    def patch(self, xml: str) -> str:
        if not self.added:
            return xml
        count = len(self.items)
        tag = self.open_tag
        tag = (
            re.sub(r'\scount="\d*"', f' count="{count}"', tag)
            if "count=" in tag
            else tag.replace(f"<{self.prefix}{self.name}", f'<{self.prefix}{self.name} count="{count}"', 1)
        )
        if self.empty:
            tag = tag[:-2].rstrip() + ">"
            body = "".join(self.added) + f"</{self.prefix}{self.name}>"
            return xml[: self.open_start] + tag + body + xml[self.open_end :]
        return (
            xml[: self.open_start]
            + tag
            + xml[self.open_end : self.close_start]
            + "".join(self.added)
            + xml[self.close_start :]
        )


class Styles:
    """xl/styles.xml: find or add the cell formats billsync needs (quote prefix, Konflikte's)."""

    def __init__(self, part: str | None, data: bytes | None) -> None:
        self.part = part
        self.xml = data.decode("utf-8") if data is not None else None
        self.original = data
        if self.xml is not None:
            self.xfs = _Section(self.xml, "cellXfs", "xf")
            self.fonts = _Section(self.xml, "fonts", "font")
            self.fills = _Section(self.xml, "fills", "fill")
        self._konflikte: dict[str, str | None] | None = None

    @property
    def usable(self) -> bool:
        return self.xml is not None and self.xfs.found and bool(self.xfs.items)

    def with_quote(self, style: str | None, quote: bool) -> str | None:
        """The cell format `style` with the quote prefix on (or off); None/"" is format 0."""
        if not self.usable:
            return style
        index = int(style) if style and style.isdigit() else 0
        if index >= len(self.xfs.items):
            return style
        item = self.xfs.items[index]
        start = re.match(r"<[^>]*?(/?)>", item)
        assert start is not None
        attrs = _attrs(start.group(0))
        if (attrs.get("quotePrefix") in ("1", "true")) == quote:
            return style
        tag = re.sub(r'\squotePrefix\s*=\s*("[^"]*"|\'[^\']*\')', "", start.group(0))
        if quote:
            end = len(tag) - (2 if tag.endswith("/>") else 1)
            tag = tag[:end].rstrip() + ' quotePrefix="1"' + tag[end:]
        new = self.xfs.index(tag + item[start.end() :])
        return str(new)

    def konflikte(self) -> dict[str, str | None]:
        """Header (bold, blue), body (text, top, wrapped), its quote-prefixed twin, decision (yellow)."""
        if self._konflikte is not None:
            return self._konflikte
        if not self.usable or not self.fonts.found or not self.fills.found or not self.fonts.items:
            self._konflikte = {"header": None, "body": None, "quote": None, "decision": None, "dquote": None}
            return self._konflikte
        p = self.xfs.prefix
        font = self.fonts.items[0]
        if not re.search(rf"<{re.escape(self.fonts.prefix)}b\s*/>", font):
            opened = re.match(r"<[^>]*?(/?)>", font)
            assert opened is not None
            if opened.group(1):  # <font/>
                font = opened.group(0)[:-2].rstrip() + f"><{self.fonts.prefix}b/></{self.fonts.prefix}font>"
            else:
                font = font[: opened.end()] + f"<{self.fonts.prefix}b/>" + font[opened.end() :]
        bold = self.fonts.index(font)
        fp = self.fills.prefix

        def fill(rgb: str) -> int:
            return self.fills.index(
                f'<{fp}fill><{fp}patternFill patternType="solid"><{fp}fgColor rgb="{rgb}"/>'
                f'<{fp}bgColor indexed="64"/></{fp}patternFill></{fp}fill>'
            )

        blue, yellow = fill("FFDDEBF7"), fill("FFFFF2CC")

        def xf(font_id: int, fill_id: int, quote: bool, wrap: bool) -> str:
            q = ' quotePrefix="1"' if quote else ""
            w = ' wrapText="1"' if wrap else ""
            return str(
                self.xfs.index(
                    f'<{p}xf numFmtId="49" fontId="{font_id}" fillId="{fill_id}" borderId="0" xfId="0"{q}'
                    f' applyNumberFormat="1" applyFont="1" applyFill="1" applyAlignment="1">'
                    f'<{p}alignment vertical="top"{w}/></{p}xf>'
                )
            )

        self._konflikte = {
            "header": xf(bold, blue, False, False),
            "body": xf(0, 0, False, True),
            "quote": xf(0, 0, True, True),
            "decision": xf(0, yellow, False, False),
            "dquote": xf(0, yellow, True, False),
        }
        return self._konflikte

    def patched(self) -> bytes | None:
        if self.xml is None:
            return None
        xml = self.xml
        # Back to front, so the earlier sections' positions stay valid.
        for section in sorted(
            (self.fonts, self.fills, self.xfs), key=lambda s: s.open_start if s.found else -1, reverse=True
        ):
            if section.found:
                xml = section.patch(xml)
        data = xml.encode("utf-8")
        return None if data == self.original else data


