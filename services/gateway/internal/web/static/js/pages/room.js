// /rooms/<id>: where a push notification's click lands. A room belongs to a
// post (its page shows the chat), so this only finds the post and moves on.
import { api } from '../api.js';
import * as session from '../session.js';
import { loginHref } from './common.js';

/** roomPage redirects /rooms/<id> to the page showing that room. */
export async function roomPage({ params, navigate, isCurrent }) {
  if (!session.current()) { navigate(loginHref(), { replace: true }); return; }
  const room = await api(`/api/chat/room/${params[0]}/`);
  if (!isCurrent()) return;
  let to = '/';
  if (room.kind === 'dm') to = `/dm/${room.id}`;
  else if (room.post) to = `/posts/${room.post}`;
  navigate(to, { replace: true });
}
