// Markdown → sanitised DOM. marked renders, DOMPurify removes anything that
// could run script (the original rendered unsanitised: stored XSS), and
// highlight.js colours code blocks afterwards (it escapes what it reads).
import { marked } from '../vendor/marked/marked.esm.js';
import DOMPurify from '../vendor/dompurify/purify.es.mjs';
import hljs from '../vendor/highlight/highlight.min.js';

marked.setOptions({ gfm: true, breaks: true, async: false });

const escapeHTML = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

// Raw HTML typed into a post is shown as the text it is, not rendered: a
// programmers' forum quotes markup far more often than it needs it. DOMPurify
// below still guards everything marked itself produces (links, images).
marked.use({ renderer: { html: (token) => escapeHTML(token.text) } });

// Links from content open safely and never carry the page as referrer.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.hasAttribute('href')) {
    node.setAttribute('rel', 'noopener noreferrer nofollow');
    if (/^https?:/i.test(node.getAttribute('href'))) node.setAttribute('target', '_blank');
  }
});

const purifyConfig = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select'],
  FORBID_ATTR: ['style'],
};

/** render returns a sanitised DocumentFragment for Markdown source, with code highlighted. */
export function render(source) {
  return sanitize(marked.parse(String(source || '')));
}

/**
 * sanitize returns HTML as a DocumentFragment after the posts' sanitiser
 * (DOMPurify with the link hook above), with code blocks highlighted: chat
 * messages (format.js) go through it too.
 */
export function sanitize(html) {
  const frag = DOMPurify.sanitize(html, purifyConfig);
  for (const code of frag.querySelectorAll('pre code')) {
    const lang = [...code.classList].find((c) => c.startsWith('language-'))?.slice(9);
    if (lang && !hljs.getLanguage(lang)) code.classList.remove(`language-${lang}`);
    hljs.highlightElement(code);
  }
  return frag;
}

/** plainText returns the text a reader sees in rendered Markdown, whitespace collapsed. */
export function plainText(source) {
  const frag = DOMPurify.sanitize(marked.parse(String(source || '')), purifyConfig);
  return frag.textContent.replace(/\s+/g, ' ').trim();
}
