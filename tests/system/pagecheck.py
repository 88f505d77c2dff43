"""What a resident must be able to read on a page, measured in the browser by Playwright."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

# Run in the page: the page's width, every amount shown (and any cut off or off screen), every
# chart's text off its chart or over another, and the sizes the charts are drawn at.
MEASURE_JS = r"""
() => {
  const width = document.documentElement.clientWidth;
  const amount = /\d{1,3}(?:,\d{3})*\.\d{2}/;
  const bad = [];
  const amounts = [];
  const name = (el) => el.tagName.toLowerCase() +
    (typeof el.className === 'string' && el.className ? '.' + el.className.split(' ')[0] : '');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const found = node.textContent.match(amount);
    if (!found) continue;
    const el = node.parentElement;
    if (el.closest('title, desc, .visually-hidden, details:not([open])')) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const box = range.getBoundingClientRect();
    if (box.width === 0 || !el.getClientRects().length) continue;  // not shown at all
    amounts.push(found[0]);
    if (box.left < -0.5 || box.right > width + 0.5) {
      bad.push(`${found[0]} off the screen (${Math.round(box.left)}..${Math.round(box.right)})`);
    }
    for (let a = el; a && a !== document.documentElement; a = a.parentElement) {
      if (a instanceof SVGElement && !(a instanceof SVGSVGElement)) continue;
      const style = getComputedStyle(a);
      if (style.overflowX === 'visible' && style.textOverflow !== 'ellipsis') continue;
      const outer = a.getBoundingClientRect();
      const cut = box.left < outer.left - 0.5 || box.right > outer.right + 0.5;
      if (a.scrollWidth > a.clientWidth + 1 || cut) bad.push(`${found[0]} cut by ${name(a)}`);
    }
  }
  const charts = [];
  for (const svg of document.querySelectorAll('svg.chart')) {
    const frame = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')];
    const boxes = texts.map((t) => t.getBoundingClientRect());
    boxes.forEach((b, i) => {
      if (b.left < frame.left - 0.5 || b.right > frame.right + 0.5 || b.right > width + 0.5) {
        bad.push(`chart text cut: ${texts[i].textContent}`);
      }
      boxes.forEach((o, j) => {
        const overlap = j > i && b.left < o.right && o.left < b.right && b.top < o.bottom &&
          o.top < b.bottom;
        const both = `${texts[i].textContent} / ${texts[j].textContent}`;
        if (overlap) bad.push(`chart texts overlap: ${both}`);
      });
    });
    const sizes = texts.map((t) => parseFloat(getComputedStyle(t).fontSize));
    charts.push(
      {width: frame.width, smallest_px: Math.min(...sizes), largest_px: Math.max(...sizes)});
  }
  return {scroll_width: document.documentElement.scrollWidth, amounts, bad, charts};
}
"""

# The smallest computed font size of any text shown in the page's main part.
SMALLEST_TEXT_PX_JS = r"""
() => Math.min(...[...document.querySelectorAll('main *')]
  .filter((e) => e.getClientRects().length &&
    [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()))
  .map((e) => parseFloat(getComputedStyle(e).fontSize)))
"""

# WCAG contrast of the search button's words (both languages) against the button.
BUTTON_CONTRAST_JS = r"""
() => {
  const rgb = (c) => c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const linear = (v) => (v <= 10.03 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
    const [r, g, b] = rgb(c).map(linear);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const button = document.querySelector('form[role=search] button');
  const back = lum(getComputedStyle(button).backgroundColor);
  return [button, ...button.querySelectorAll('*')].map((el) => {
    const fore = lum(getComputedStyle(el).color);
    return (Math.max(fore, back) + 0.05) / (Math.min(fore, back) + 0.05);
  });
}
"""

DAY_ZH = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")


def day_of(words: str) -> date:
    """2026年9月30日 -> date(2026, 9, 30)."""
    found = DAY_ZH.search(words)
    assert found, words
    return date(*(int(part) for part in found.groups()))


def measure(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(MEASURE_JS)
    return result


def decode_qr(image: Path) -> str:
    """The text of the one QR code in a picture, read by zbarimg (Debian's zbar-tools)."""
    zbarimg = shutil.which("zbarimg")
    assert zbarimg, "zbarimg is needed to read the notice's QR code (apt-get install zbar-tools)"
    done = subprocess.run(
        [zbarimg, "--raw", "-q", str(image)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"no QR code found in {image}: {done.stderr}"
    return done.stdout.strip()
