// Friends: my list (open, remove), and search users by email to add them.
import { h, clear, avatar, toast } from '../dom.js';
import { t } from '../i18n.js';
import { api, list, qs } from '../api.js';
import { errorText } from '../errors.js';
import * as session from '../session.js';
import { loginHref } from './common.js';

/** friendsPage renders /friends. */
export async function friendsPage({ main, navigate, isCurrent }) {
  if (!session.current()) { navigate(loginHref(), { replace: true }); return; }
  document.title = `${t('friends.title')} · Cobra Space`;
  const listEl = h('ul', { class: 'people', id: 'friend-list' });
  const results = h('ul', { class: 'people', id: 'search-results' });
  const resultsWrap = h('section', { class: 'card people-card', hidden: true }, h('h2', {}, t('friends.results')), results);
  const keyword = h('input', { type: 'search', id: 'friend-search', placeholder: 'name@example.com', autocomplete: 'off', attrs: { 'aria-label': t('friends.search') } });
  const form = h('form', { class: 'friend-search', role: 'search' }, keyword, h('button', { type: 'submit', class: 'btn btn-primary' }, t('friends.searchbtn')));
  let friends = [];

  const person = (u, actions) => h('li', { class: 'person', dataset: { email: u.email } },
    avatar(u.profile_picture_url, u.nickname || u.email, 'md'),
    h('div', { class: 'person-id' },
      h('a', { href: `/users/${u.id}`, class: 'nick', attrs: { 'data-link': '' } }, u.nickname || u.email),
      h('span', { class: 'muted small' }, u.email),
      u.status ? h('span', { class: `status status-${u.status}` }, t(`status.${u.status}`)) : null),
    h('div', { class: 'person-actions' }, actions));

  const renderFriends = () => {
    clear(listEl);
    if (!friends.length) { listEl.append(h('li', { class: 'muted empty-line' }, t('friends.empty'))); return; }
    for (const f of friends) {
      listEl.append(person(f, [
        h('a', { href: `/users/${f.id}`, class: 'btn btn-ghost btn-sm', attrs: { 'data-link': '' } }, t('friends.view')),
        h('button', { type: 'button', class: 'btn btn-danger-ghost btn-sm', onclick: () => remove(f.email) }, t('friends.remove'))]));
    }
  };
  const loadFriends = async () => { friends = await api('/api/user/friends/') || []; if (isCurrent()) renderFriends(); };

  async function add(email) {
    try {
      await api('/api/user/add-friend/', { method: 'POST', body: { email } });
      toast(t('friends.added', { email }), 'success');
      await loadFriends();
      search();
    } catch (err) { toast(err.fields?.email?.[0] || err.message, 'error'); }
  }
  async function remove(email) {
    try {
      await api('/api/user/delete-friend/', { method: 'POST', body: { email } });
      toast(t('friends.removed', { email }), 'success');
      await loadFriends();
      if (!resultsWrap.hidden) search();
    } catch (err) { toast(errorText(err), 'error'); }
  }
  // Results come a page at a time (Link rel="next"); "more" fetches the next.
  let nextResults = null;
  const moreResults = h('button', { type: 'button', class: 'btn btn-ghost btn-more', id: 'search-more', hidden: true }, t('friends.more'));
  resultsWrap.append(moreResults);
  moreResults.addEventListener('click', () => showResults(nextResults, false).catch((err) => toast(errorText(err), 'error')));
  async function search() {
    const k = keyword.value.trim();
    if (!k) { resultsWrap.hidden = true; return; }
    await showResults(`/api/user/search-friends/${qs({ keyword: k })}`, true);
  }
  async function showResults(url, fresh) {
    moreResults.disabled = true;
    let page;
    try { page = await list(url); } finally { moreResults.disabled = false; }
    if (!isCurrent()) return;
    const found = page.items;
    nextResults = page.next;
    moreResults.hidden = !nextResults;
    if (fresh) clear(results);
    resultsWrap.hidden = false;
    if (fresh && !found.length) { results.append(h('li', { class: 'muted empty-line' }, t('friends.noresults'))); return; }
    const me = session.current();
    for (const u of found) {
      let action;
      if (u.email === me.email) action = h('span', { class: 'badge badge-muted' }, t('friends.you'));
      // A private user's email is blank: friends are added by email, so
      // only someone who knows it (and searches for it) can add them.
      else if (!u.email) action = h('span', { class: 'badge badge-muted' }, t('friends.private'));
      else if (friends.some((f) => f.email === u.email)) action = h('span', { class: 'badge' }, t('friends.already'));
      else action = h('button', { type: 'button', class: 'btn btn-primary btn-sm', onclick: () => add(u.email) }, t('friends.add'));
      results.append(person(u, action));
    }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); search().catch((err) => toast(errorText(err), 'error')); });

  main.append(h('div', { class: 'narrow' },
    h('h1', { class: 'page-title' }, t('friends.title')),
    h('section', { class: 'card people-card' }, h('h2', {}, t('friends.search')), form),
    resultsWrap,
    h('section', { class: 'card people-card' }, h('h2', {}, t('friends.mine')), listEl)));
  await loadFriends();
}
