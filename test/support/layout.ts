import type { Page } from 'playwright-core';

/** What {@link measureLayout} found wrong on the page as it is shown. */
export interface LayoutReport {
  /** `document.documentElement`'s scroll and client widths: the page scrolls sideways when the first is larger. */
  scrollWidth: number;
  clientWidth: number;
  /** `overflow-x` of html and body: `hidden` or `clip` there would hide a sideways scroll rather than remove it. */
  rootOverflow: string[];
  /** Visible elements whose right edge is past the viewport's (outside any scroll container of their own). */
  pastRightEdge: string[];
  /** Text that wraps into a column of single words (fewer than 1.5 words per line: see {@link measure}). */
  wordPerLine: string[];
  /** Words broken across lines (ids, code and links may break; words of prose, labels and headings may not). */
  brokenWords: string[];
}

// The page's globals, for the function below that runs in the page (the tests compile without the DOM library).
declare const document: any;
declare function getComputedStyle(element: any): any;
declare const NodeFilter: { SHOW_TEXT: number; FILTER_ACCEPT: number; FILTER_REJECT: number };

/**
 * Measures the page as Chromium laid it out, in the page itself (it must not close over anything).
 *
 * Word-per-line: for each visible element that carries text a person reads (headings, labels,
 * buttons, table headers and cells, captions, summaries, tabs, paragraphs, list items, terms), every
 * word of its own text gets a DOM Range and that Range's client rectangles. Words whose boxes
 * overlap vertically share a line (a badge's smaller text on the same line still counts as that
 * line). Fewer than 1.5 words per line on average is a column of single words: for the page's own
 * words (labels, headings, buttons, headers, tabs) over two lines or more, so "Key label" on two
 * lines fails and "When / a / key / is / found / in / public" fails; for the text it shows (cells,
 * sentences) over three lines or more, so a two-word value wrapped once in a data column passes and
 * a cell squeezed to a word per line fails. A sentence that wraps normally passes. This measures what the
 * reader sees (where the browser broke the lines), not heights and line-heights, so padding, badges
 * and mixed font sizes do not fool it. A word whose own Range has rectangles on two lines was
 * broken mid-word: a failure too, except after a hyphen ("loan-" / "review") and inside `code` and
 * links (ids and addresses may break).
 * Visually hidden text (the `sr-only` pattern: a clipped box of a pixel) is skipped.
 */
function measure(): LayoutReport {
  // The page's own words (labels, headings, buttons, headers, tabs), and the text it shows (values, sentences).
  const CHROME = 'h1, h2, h3, label, button, th, caption, summary, legend, dt, .tabs a, .switch span';
  const TEXT = `${CHROME}, td, dd, li, p, figcaption, .crumbs, #account-name`;
  const describe = (el: any): string => {
    const id = el.id ? `#${el.id}` : '';
    const cls = el.classList.length ? `.${[...el.classList].join('.')}` : '';
    const text = String(el.textContent ?? '')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 60);
    return `${el.tagName.toLowerCase()}${id}${cls} "${text}"`;
  };
  // The sr-only pattern: a clipped box of a pixel, for screen readers only.
  const visuallyHidden = (el: any): boolean => {
    for (let node = el; node; node = node.parentElement) {
      const box = node.getBoundingClientRect();
      if (getComputedStyle(node).overflow !== 'visible' && (box.width <= 1 || box.height <= 1)) return true;
    }
    return false;
  };
  const inScroller = (el: any): boolean => {
    for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
      const overflowX = getComputedStyle(node).overflowX;
      if (overflowX === 'auto' || overflowX === 'scroll') return true;
    }
    return false;
  };
  const shown = (el: any): boolean => el.checkVisibility({ checkVisibilityCSS: true }) && !visuallyHidden(el);

  const root = document.documentElement;
  const width: number = root.clientWidth;
  const pastRightEdge: string[] = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 0.5) continue;
    if (!shown(el) || inScroller(el)) continue;
    pastRightEdge.push(`${describe(el)} right=${Math.round(box.right)} > ${width}`);
  }

  const wordPerLine: string[] = [];
  const brokenWords: string[] = [];
  for (const el of document.body.querySelectorAll(TEXT)) {
    if (!shown(el)) continue;
    // The element's own words: text inside a nested element of the list is that element's.
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT, {
      acceptNode: (node: any) => (node.parentElement.closest(TEXT) === el ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT),
    });
    const boxes: Array<{ top: number; bottom: number }> = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!shown(node.parentElement)) continue;
      for (const match of String(node.data).matchAll(/\S+/g)) {
        const rectsOf = (start: number, end: number) => {
          const range = document.createRange();
          range.setStart(node, start);
          range.setEnd(node, end);
          return [...range.getClientRects()].filter((r: any) => r.width > 0 && r.height > 0);
        };
        const rects = rectsOf(match.index, match.index + match[0].length);
        if (rects.length === 0) continue;
        boxes.push({ top: rects[0].top, bottom: rects[0].bottom });
        // A hyphenated word may break after its hyphen ("loan-" / "review"); each part may not.
        if (node.parentElement.closest('code, a, .mono')) continue;
        for (const part of match[0].matchAll(/[^-]+-*/g)) {
          const start = match.index + part.index;
          if (new Set(rectsOf(start, start + part[0].length).map((r: any) => Math.round(r.top))).size > 1) {
            brokenWords.push(`"${match[0]}" in ${describe(el)}`);
          }
        }
      }
    }
    if (boxes.length < 2) continue;
    // Words whose boxes overlap vertically share a line (a badge's smaller text included).
    boxes.sort((a, b) => a.top + a.bottom - (b.top + b.bottom));
    let lines = 0;
    let lineBottom = -Infinity;
    for (const box of boxes) {
      if ((box.top + box.bottom) / 2 > lineBottom) {
        lines += 1;
        lineBottom = box.bottom;
      } else {
        lineBottom = Math.max(lineBottom, box.bottom);
      }
    }
    if (lines >= (el.matches(CHROME) ? 2 : 3) && boxes.length / lines < 1.5)
      wordPerLine.push(`${describe(el)}: ${boxes.length} words on ${lines} lines`);
  }

  return {
    scrollWidth: root.scrollWidth,
    clientWidth: width,
    rootOverflow: [getComputedStyle(root).overflowX, getComputedStyle(document.body).overflowX],
    pastRightEdge,
    wordPerLine,
    brokenWords,
  };
}

/** Lays out the page as shown and reports what would make it unusable at this width. */
export function measureLayout(page: Page): Promise<LayoutReport> {
  return page.evaluate(measure);
}

/** The report of a page that reads well at its width: nothing found. */
export function expectReadable(report: LayoutReport, where: string): void {
  expect({ where, ...report }).toEqual({
    where,
    scrollWidth: report.clientWidth,
    clientWidth: report.clientWidth,
    rootOverflow: ['visible', 'visible'],
    pastRightEdge: [],
    wordPerLine: [],
    brokenWords: [],
  });
}
