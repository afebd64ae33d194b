// Blocks in the chat (docs/api.md, "Direct messages, blocks, moderation,
// search"): the server sends a blocked user's messages and edits with
// "hidden": true and no text; the chat shows a fixed line instead.
import { t } from './i18n.js';

// shownText is the text a message or edit frame shows.
export function shownText(m) {
  return m.hidden ? t('chat.hiddenmsg') : m.message;
}
