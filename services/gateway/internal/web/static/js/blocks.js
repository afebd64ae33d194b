// Blocks (docs/api.md, "Direct messages, blocks, moderation, search"): a
// profile's "차단하기" toggle, and in the chat the fixed line the server's
// "hidden": true messages and edits show instead of their text.
import { h, toast } from './dom.js';
import { t } from './i18n.js';
import { api, list } from './api.js';
import { errorText } from './errors.js';

// maxBlockPages bounds the look through my blocks (100 a page; a user
// blocks at most 1,000).
const maxBlockPages = 10;

/** isBlocked tells whether I block the user with id userID. */
async function isBlocked(userID) {
  let url = '/api/user/blocks/?limit=100';
  for (let i = 0; url && i < maxBlockPages; i++) {
    const page = await list(url);
    if (page.items.some((u) => Number(u.id) === Number(userID))) return true;
    url = page.next;
  }
  return false;
}

/**
 * blockButton is the "차단하기" / "차단 해제" toggle of another user's
 * profile: POST /api/user/block/ or DELETE /api/user/block/<id>/.
 */
export function blockButton(userID) {
  let blocked = false;
  const btn = h('button', { type: 'button', class: 'btn btn-ghost block-toggle', id: 'block-toggle', disabled: true }, t('block.block'));
  const show = () => {
    btn.textContent = t(blocked ? 'block.unblock' : 'block.block');
    btn.setAttribute('aria-pressed', String(blocked));
  };
  isBlocked(userID).then((b) => { blocked = b; show(); btn.disabled = false; }).catch(() => { btn.disabled = false; });
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      if (blocked) await api(`/api/user/block/${Number(userID)}/`, { method: 'DELETE' });
      else await api('/api/user/block/', { method: 'POST', body: { user: Number(userID) } });
      blocked = !blocked;
      show();
      toast(t(blocked ? 'block.blocked' : 'block.unblocked'));
    } catch (err) {
      toast(errorText(err), 'error');
    } finally {
      btn.disabled = false;
    }
  });
  return btn;
}

// shownText is the text a message or edit frame shows.
export function shownText(m) {
  return m.hidden ? t('chat.hiddenmsg') : m.message;
}
