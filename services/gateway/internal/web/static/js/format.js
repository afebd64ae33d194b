// Chat message formatting: what a message shows, never what it stores. The
// text a user types is sent and kept as written; only its display gains
// links (http, https and mailto URLs), `inline code` and ``` fenced code
// blocks ``` with highlighting. Nothing else of Markdown applies: a chat
// line with * or _ or # must read as typed. The HTML built here escapes
// every character of the message and then still passes the posts'
// sanitiser (markdown.js: DOMPurify, rel="noopener noreferrer" and
// target=_blank on links), so a crafted message can add neither markup nor
// a script URL.
import { sanitize } from './markdown.js';

const escapeHTML = (s) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

// ```lang\n ... ``` (the closing fence on its own or at the end of a line).
const fence = /```([\w+#.-]{0,20})[^\S\n]*\n([\s\S]*?)\n?```/g;
// `code` on one line, or a URL with a safe scheme. Trailing punctuation
// (".", ",", ")" ...) ends a sentence more often than a URL.
const inline = /`([^`\n]+)`|\b((?:https?:\/\/|mailto:)[^\s<>"'`]+)/gi;
const safeScheme = /^(https?:|mailto:)/i;

function inlineHTML(text) {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(inline)) {
    out += escapeHTML(text.slice(last, m.index));
    if (m[1] !== undefined) {
      out += `<code>${escapeHTML(m[1])}</code>`;
    } else {
      let url = m[2];
      const trail = url.match(/[.,;:!?)\]}'"]+$/);
      if (trail) url = url.slice(0, -trail[0].length);
      out += safeScheme.test(url) ? `<a href="${escapeHTML(url)}">${escapeHTML(url)}</a>` : escapeHTML(url);
      if (trail) out += escapeHTML(trail[0]);
    }
    last = m.index + m[0].length;
  }
  return out + escapeHTML(text.slice(last));
}

/** formatMessage returns the display of a chat message's text as a sanitised DocumentFragment. */
export function formatMessage(text) {
  const src = String(text ?? '');
  let html = '';
  let last = 0;
  for (const m of src.matchAll(fence)) {
    html += inlineHTML(src.slice(last, m.index));
    const lang = m[1] ? ` class="language-${escapeHTML(m[1].toLowerCase())}"` : '';
    html += `<pre><code${lang}>${escapeHTML(m[2])}</code></pre>`;
    last = m.index + m[0].length;
    if (src[last] === '\n') last++; // the block ends its line
  }
  html += inlineHTML(src.slice(last));
  const frag = sanitize(html);
  // Belt and braces: only the schemes above ever become links.
  for (const a of frag.querySelectorAll('a')) {
    if (!safeScheme.test(a.getAttribute('href') || '')) a.replaceWith(document.createTextNode(a.textContent));
  }
  return frag;
}
