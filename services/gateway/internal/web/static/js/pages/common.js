// Pieces shared by the board and the post page: how a post's category,
// tags and writer are read from either post shape the API returns.
import { h } from '../dom.js';
import { api } from '../api.js';
import { t } from '../i18n.js';

let categoriesCache = null;

/** categories returns [{id,name}] (fetched once per page load). */
export async function categories() {
  if (!categoriesCache) categoriesCache = api('/api/post/categories/').catch((e) => { categoriesCache = null; throw e; });
  return categoriesCache;
}

/** invalidateCategories forgets the cached categories. */
export function invalidateCategories() { categoriesCache = null; }

/** categoryName resolves a post's category (id, name or {id,name}) to a name. */
export function categoryName(cat, cats = []) {
  if (cat === null || cat === undefined || cat === '') return '';
  if (typeof cat === 'object') return cat.name || '';
  const found = cats.find((c) => c.id === cat || String(c.id) === String(cat));
  return found ? found.name : (typeof cat === 'string' ? cat : '');
}

/** categoryID resolves a post's category to its id. */
export function categoryID(cat, cats = []) {
  if (cat && typeof cat === 'object') return cat.id;
  const found = cats.find((c) => c.id === cat || String(c.id) === String(cat) || c.name === cat);
  return found ? found.id : cat;
}

/** tagNames returns the tag names of a post. */
export const tagNames = (post) => (post.tags || []).map((x) => (typeof x === 'string' ? x : x.name)).filter(Boolean);

/** writerOf normalises the writer of a post object or a detail object. */
export function writerOf(post) {
  const w = post.writer;
  if (w && typeof w === 'object') return { id: w.id, email: w.email, nickname: w.nickname || w.email, picture: w.profile_picture_url };
  return { id: w, email: post.writer_email, nickname: post.writer_nickname || '', picture: post.writer_profile_picture || post.writer_profile_picture_url };
}

/** tagList renders tag chips (links to the board filtered by tag), or "No Tags". */
export function tagList(post, { links = true } = {}) {
  const names = tagNames(post);
  if (!names.length) return h('span', { class: 'tag tag-none' }, t('post.notags'));
  return h('ul', { class: 'tags', attrs: { 'aria-label': 'tags' } }, names.map((n) => h('li', {},
    links ? h('a', { class: 'tag', href: `/?tag=${encodeURIComponent(n)}`, attrs: { 'data-link': '' } }, `#${n}`) : h('span', { class: 'tag' }, `#${n}`))));
}

/** loginLink builds a link to /login that comes back to the current page. */
export function loginHref() {
  return `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
}
