// Small DOM helpers. Everything user-supplied goes into the page as text
// (textContent / text nodes) — never through innerHTML. The only HTML the app
// inserts is Markdown output, and that passes DOMPurify first (markdown.js).
import { getLang } from './i18n.js';

/**
 * h builds an element: h('a', {class: 'x', href: '/', onclick: fn}, 'text', child).
 * Props named on* become listeners, `class`, `text`, `dataset`, `attrs` are
 * special, everything else is set as a DOM property. Children may be strings
 * (inserted as text), nodes, arrays, or null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'attrs') for (const [a, av] of Object.entries(v)) { if (av !== null && av !== undefined && av !== false) el.setAttribute(a, av === true ? '' : String(av)); }
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el[k] = v;
  }
  append(el, children);
  return el;
}

/** append adds children (strings as text) to el. */
export function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** clear removes every child of el. */
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

const pad = (n) => String(n).padStart(2, '0');

/** fmtDate formats an RFC 3339 time as local "YYYY-MM-DD HH:mm". */
export function fmtDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** fmtTime formats an RFC 3339 time as local "HH:mm". */
export function fmtTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** sameDay tells whether two times (ms or ISO) fall on the same local calendar day. */
export function sameDay(a, b) {
  const x = new Date(a); const y = new Date(b);
  return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() && x.getDate() === y.getDate();
}

/** fmtDay formats an RFC 3339 time as the local date in the UI's language ("2026년 12월 3일 (목)"). */
export function fmtDay(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat(getLang() === 'en' ? 'en-US' : 'ko-KR', { year: 'numeric', month: 'long', day: 'numeric', weekday: 'short' }).format(d);
}

// Icons are inline SVG paths (24×24 viewBox), drawn in currentColor: emoji
// render as empty boxes where no emoji font is installed.
const iconPaths = {
  logo: ['M7 17c0-3 2-4 5-4s5-1 5-4-2-5-5-5-4 1-5 3', 'M12 13c3 0 5 1 5 4s-2 4-5 4-5-1-5-3', 'M15.5 6.5h.01'],
  eye: ['M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z', 'M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6z'],
  lock: ['M6 11h12v10H6z', 'M8 11V7a4 4 0 0 1 8 0v4'],
  search: ['M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14z', 'M20 20l-4-4'],
  more: ['M5 12h.01', 'M12 12h.01', 'M19 12h.01'],
  question: ['M9 9a3 3 0 1 1 4 2.8c-.7.3-1 .9-1 1.7V14', 'M12 18h.01'],
  chat: ['M4 5h16v11H8l-4 4z'],
  image: ['M4 5h16v14H4z', 'M4 16l5-5 4 4 3-3 4 4', 'M15 9h.01'],
};

/** icon returns an inline SVG icon (aria-hidden: the control around it carries the label). */
export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', `icon icon-${name}`);
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of iconPaths[name] || []) {
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

const palette = 8;
function hashOf(s) {
  let x = 0;
  for (const ch of String(s || '?')) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return x;
}

/**
 * avatar shows a user's picture, falling back to a coloured initial when the
 * picture is missing or fails to load (e.g. blocked by the CSP's img-src).
 */
export function avatar(url, name, size = 'md') {
  const initial = h('span', { class: `avatar avatar-${size} avatar-c${hashOf(name) % palette}`, attrs: { 'aria-hidden': 'true' } },
    [...String(name || '?').trim()][0]?.toUpperCase() || '?');
  if (!url) return initial;
  const img = h('img', { class: `avatar avatar-${size}`, src: url, alt: '', loading: 'lazy', decoding: 'async', width: 40, height: 40 });
  img.addEventListener('error', () => img.replaceWith(initial), { once: true });
  return img;
}

/** toast shows a short message at the bottom of the screen. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box || !message) return;
  // The same message again while it is on screen restarts its timer instead
  // of stacking copies (a burst of refused sends says it once).
  let el = [...box.children].find((x) => x.textContent === message && x.dataset.kind === kind);
  if (el) { clearTimeout(el.fadeTimer); clearTimeout(el.removeTimer); el.classList.remove('toast-out'); } else {
    el = h('div', { class: `toast toast-${kind}`, dataset: { kind } }, message);
    box.append(el);
  }
  el.fadeTimer = setTimeout(() => el.classList.add('toast-out'), 3600);
  el.removeTimer = setTimeout(() => el.remove(), 4000);
}

/** splitList turns "go, grpc ,, web" into ["go","grpc","web"]. */
export function splitList(s) {
  return String(s || '').split(',').map((x) => x.trim()).filter(Boolean);
}

/**
 * confirmDialog asks a yes/no question with a <dialog> (never window.confirm,
 * which would block the page and is what XSS tests watch for).
 */
export function confirmDialog(message, yesLabel, noLabel) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: 'dialog' },
      h('p', { class: 'dialog-msg' }, message),
      h('form', { method: 'dialog', class: 'dialog-actions' },
        h('button', { class: 'btn btn-ghost', value: 'no', type: 'submit' }, noLabel),
        h('button', { class: 'btn btn-danger', value: 'yes', type: 'submit' }, yesLabel)));
    dlg.addEventListener('close', () => { resolve(dlg.returnValue === 'yes'); dlg.remove(); });
    document.body.append(dlg);
    dlg.showModal();
  });
}
