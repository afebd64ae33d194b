// Small DOM helpers. Everything user-supplied goes into the page as text
// (textContent / text nodes) — never through innerHTML. The only HTML the app
// inserts is Markdown output, and that passes DOMPurify first (markdown.js).

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
  const el = h('div', { class: `toast toast-${kind}` }, message);
  box.append(el);
  setTimeout(() => el.classList.add('toast-out'), 3600);
  setTimeout(() => el.remove(), 4000);
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
