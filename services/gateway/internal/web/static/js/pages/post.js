// Post detail: the rendered (sanitised) Markdown on the left and the post's
// live chat on the right. The chat column's size is fixed by CSS before it
// connects, so nothing moves when it loads.
import { h, avatar, fmtDate, toast, confirmDialog, icon } from '../dom.js';
import { t } from '../i18n.js';
import { api, ApiError } from '../api.js';
import { errorText } from '../errors.js';
import { render } from '../markdown.js';
import * as session from '../session.js';
import { categories, categoryName, tagList, writerOf, loginHref } from './common.js';
import { ChatPanel } from '../chat.js';
import { attachConversation } from '../roomconv.js';
import { attachModeration } from '../moderation.js';
import { attachSearch } from '../search.js';

/** postPage renders /posts/<id>. */
export async function postPage({ main, params, navigate, isCurrent }) {
  const id = params[0];
  const article = h('article', { class: 'post card' }, h('p', { class: 'muted' }, t('common.loading')));
  const side = h('aside', { class: 'post-chat', attrs: { 'aria-label': t('chat.title') } });
  main.append(h('div', { class: 'post-layout' }, article, side));

  let post;
  let cats = [];
  try {
    [post, cats] = await Promise.all([api(`/api/post/detail/${id}/`), categories().catch(() => [])]);
  } catch (err) {
    if (!isCurrent()) return;
    article.replaceChildren(h('div', { class: 'empty-state' },
      h('p', {}, err instanceof ApiError && err.status === 404 ? t('post.notfound') : t('common.error')),
      h('a', { href: '/', class: 'btn btn-ghost', attrs: { 'data-link': '' } }, t('post.back'))));
    side.remove();
    return;
  }
  if (!isCurrent()) return;
  document.title = `${post.title} · Cobra Space`;
  const w = writerOf(post);
  const mine = session.isMe({ id: w.id, email: w.email });
  const cat = post.category_name || categoryName(post.category, cats);
  const body = h('div', { class: 'markdown', id: 'post-content' });
  body.append(render(post.content));

  const actions = mine ? h('div', { class: 'post-actions' },
    h('a', { href: `/posts/${post.id ?? id}/edit`, class: 'btn btn-ghost btn-sm', attrs: { 'data-link': '' } }, t('post.edit')),
    h('button', {
      type: 'button', class: 'btn btn-danger-ghost btn-sm', id: 'delete-post',
      onclick: async () => {
        if (!await confirmDialog(t('post.confirmdelete'), t('common.yes'), t('common.no'))) return;
        try {
          await api(`/api/post/detail/${post.id ?? id}/delete/`, { method: 'DELETE' });
          toast(t('post.deleted'), 'success');
          navigate('/', { replace: true });
        } catch (err) { toast(errorText(err), 'error'); }
      },
    }, t('post.delete'))) : null;

  const edited = post.updated_at && post.created_at && Math.abs(new Date(post.updated_at) - new Date(post.created_at)) > 1000;
  article.replaceChildren(
    h('header', { class: 'post-head' },
      h('div', { class: 'post-meta-top' }, cat ? h('span', { class: 'badge' }, cat) : null, actions),
      h('h1', { class: 'post-title' }, post.title),
      tagList(post),
      h('div', { class: 'post-byline' }, avatar(w.picture, w.nickname, 'md'),
        h('div', {}, w.id ? h('a', { class: 'nick', href: `/users/${w.id}`, attrs: { 'data-link': '' } }, w.nickname) : h('span', { class: 'nick' }, w.nickname),
          h('div', { class: 'muted small' }, h('time', { dateTime: post.created_at }, fmtDate(post.created_at)),
            edited ? ` · ${t('post.updated', { d: fmtDate(post.updated_at) })}` : '',
            ` · ${t('post.views', { n: post.hit ?? 0 })}`)))),
    body);

  const roomID = post.room_data?.id ?? post.room_id;
  if (!session.current() || !roomID) {
    side.append(h('section', { class: 'chat card chat-locked' },
      h('header', { class: 'chat-head' }, h('h2', {}, t('chat.title'))),
      h('div', { class: 'chat-locked-body' }, h('p', {}, t('chat.loginneeded')),
        h('a', { href: loginHref(), class: 'btn btn-primary', attrs: { 'data-link': '' } }, t('auth.login')))));
    return undefined;
  }
  const chat = new ChatPanel({ roomID, me: session.current(), onAuthLost: () => toast(t('chat.sessionexpired'), 'error') });
  side.append(chat.el);
  const detachMod = attachModeration(chat, { id: roomID, owner: post.room_data?.owner ?? w.id, kind: 'post' });
  const detachSearch = attachSearch(chat);
  // On a phone the chat sits below the post: a button jumps to it.
  const jump = h('button', {
    type: 'button', class: 'btn btn-primary jump-chat', id: 'jump-chat',
    onclick: () => { side.scrollIntoView({ block: 'start' }); chat.input.focus({ preventScroll: true }); },
  }, icon('chat'), t('chat.jump'));
  main.append(jump);
  // Once the chat is on screen the button would only cover it.
  const seen = new IntersectionObserver(([e]) => { jump.hidden = e.isIntersecting; }, { threshold: 0.3 });
  seen.observe(side);
  const detachConv = attachConversation(chat);
  chat.start();
  return () => { seen.disconnect(); detachConv(); detachSearch(); detachMod(); chat.destroy(); };
}
