// The board: post cards with category/tag filters, search, ordering and
// "load more" paging through the Link header.
import { h, append, avatar, fmtDate, toast, icon } from '../dom.js';
import { t } from '../i18n.js';
import { list, api, qs } from '../api.js';
import { plainText } from '../markdown.js';
import { categories, categoryName, tagList, writerOf } from './common.js';

/** boardPage renders / with ?search=&category=&tag=&ordering=. */
export async function boardPage({ main, query, navigate, isCurrent, saved, save }) {
  const search = query.get('search') || '';
  const category = query.get('category') || '';
  const tag = query.get('tag') || '';
  const ordering = query.get('ordering') === '-hit' ? '-hit' : '';
  document.title = search ? `${t('board.results', { q: search })} · Cobra Space` : 'Cobra Space';

  const link = (params) => `/${qs({ search, category, tag, ordering, ...params })}`;
  const grid = h('ol', { class: 'post-grid', id: 'post-list', attrs: { 'aria-live': 'polite' } });
  const more = h('button', { type: 'button', class: 'btn btn-ghost btn-more', hidden: true }, t('board.more'));
  const catNav = h('ul', { class: 'side-list' });
  const tagNav = h('div', { class: 'tag-cloud' });
  const order = h('select', { id: 'ordering', class: 'select', attrs: { 'aria-label': t('board.order') } },
    h('option', { value: '', selected: ordering === '' }, t('board.order.new')),
    h('option', { value: '-hit', selected: ordering === '-hit' }, t('board.order.hit')));
  order.addEventListener('change', () => navigate(link({ ordering: order.value })));

  let heading = t('board.all');
  if (search) heading = t('board.results', { q: search });
  else if (tag) heading = `#${tag}`;
  const activeFilters = [];
  if (tag) activeFilters.push(h('span', { class: 'chip' }, `#${tag}`));
  const filterRow = h('div', { class: 'filter-row' }, activeFilters,
    (search || category || tag) ? h('a', { href: '/', class: 'link-btn', attrs: { 'data-link': '' } }, t('board.clear')) : null);

  append(main, [
    !search && !category && !tag ? h('section', { class: 'hero' },
      h('div', {}, h('h1', {}, t('board.hero')), h('p', {}, t('board.herosub'))),
      h('a', { href: '/write', class: 'btn btn-primary btn-lg', attrs: { 'data-link': '' } }, t('board.write'))) : null,
    h('div', { class: 'board' },
      h('aside', { class: 'board-side' },
        h('section', { class: 'side-card card' }, h('h2', {}, t('board.categories')), catNav),
        h('section', { class: 'side-card card' }, h('h2', {}, t('board.tags')), tagNav)),
      h('section', { class: 'board-main' },
        h('div', { class: 'board-toolbar' }, h('h2', { class: 'board-title', id: 'board-title' }, heading), order),
        filterRow, grid, more))]);

  for (let i = 0; i < 6; i++) grid.append(h('li', { class: 'post-card card skeleton', attrs: { 'aria-hidden': 'true' } }));
  let cats = [];
  const [catsRes, tagsRes] = await Promise.allSettled([categories(), api('/api/post/tags/')]);
  if (!isCurrent()) return;
  if (catsRes.status === 'fulfilled') cats = catsRes.value || [];
  const catLink = (id, name) => h('li', {}, h('a', {
    href: link({ category: id }), class: String(category) === String(id) ? 'active' : '',
    attrs: { 'data-link': '', 'aria-current': String(category) === String(id) ? 'page' : null },
  }, name));
  append(catNav, [catLink('', t('board.allcats')), cats.map((c) => catLink(c.id, c.name))]);
  const catName = category && categoryName(category, cats);
  if (catName && !search) {
    // The heading names what the list shows: a category, not "all posts".
    main.querySelector('#board-title').textContent = tag ? `${catName} · #${tag}` : catName;
    document.title = `${catName} · Cobra Space`;
  }
  if (tagsRes.status === 'fulfilled') {
    // A tag no post uses any more leads to an empty list: not "popular".
    for (const tg of (tagsRes.value || []).filter((x) => x.post_count > 0).slice(0, 20)) {
      tagNav.append(h('a', { href: link({ tag: tg.name }), class: `tag${tag === tg.name ? ' active' : ''}`, attrs: { 'data-link': '' } },
        `#${tg.name}`, h('span', { class: 'count' }, String(tg.post_count ?? ''))));
    }
  }

  const limit = /^\d{1,3}$/.test(query.get('limit') || '') ? query.get('limit') : 20;
  let next = `/api/post/posts/${qs({ search, category, tag, ordering, limit })}`;
  let items = [];
  const show = (page) => {
    for (const el of grid.querySelectorAll('.skeleton')) el.remove();
    for (const p of page) grid.append(postCard(p, cats));
    more.hidden = !next;
    if (!grid.children.length) grid.replaceWith(h('div', { class: 'empty-state', id: 'post-list' }, h('p', {}, search ? t('board.emptysearch') : t('board.empty'))));
  };
  const load = async () => {
    more.disabled = true;
    try {
      const page = await list(next);
      if (!isCurrent()) return;
      next = page.next;
      items = items.concat(page.items);
      // Back to this entry shows the same pages, not just the first one.
      save({ items, next });
      show(page.items);
    } finally {
      more.disabled = false;
      for (const el of grid.querySelectorAll('.skeleton')) el.remove();
    }
  };
  more.addEventListener('click', () => load().catch(() => toast(t('common.error'), 'error')));
  if (saved?.items) {
    ({ items, next } = saved);
    show(items);
    save({ items, next });
    return;
  }
  await load();
}

/** postCard renders one post of the board. */
export function postCard(p, cats) {
  const w = writerOf(p);
  const excerpt = plainText(p.content);
  const cat = p.category_name || categoryName(p.category, cats);
  return h('li', { class: 'post-card card', dataset: { id: p.id } },
    h('div', { class: 'post-card-top' }, cat ? h('span', { class: 'badge' }, cat) : null,
      h('span', { class: 'views', attrs: { 'aria-label': t('post.views', { n: p.hit ?? 0 }) } }, icon('eye'), String(p.hit ?? 0))),
    h('h3', { class: 'post-card-title' }, h('a', { href: `/posts/${p.id}`, attrs: { 'data-link': '' } }, p.title)),
    h('p', { class: 'post-card-excerpt' }, [...excerpt].length > 100 ? `${[...excerpt].slice(0, 100).join('')}…` : excerpt),
    tagList(p),
    h('div', { class: 'post-card-foot' }, avatar(w.picture, w.nickname, 'sm'), h('span', { class: 'nick' }, w.nickname),
      h('time', { dateTime: p.created_at }, fmtDate(p.created_at))));
}
