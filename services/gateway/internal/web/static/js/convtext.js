// UI text of replies, threads and reactions, in the languages of i18n.js.
// Kept in a module of its own so these features' files stay apart from the
// shared dictionary other features edit.
import { getLang } from './i18n.js';

const dict = {
  ko: {
    reply: '답글', replying: '{name}님에게 답글', cancelreply: '답글 취소', replies: '답글 {n}개',
    thread: '스레드', closethread: '스레드 닫기', noreplies: '아직 답글이 없습니다.', parentdeleted: '삭제된 메시지',
    react: '반응 추가', reactwith: '{emoji} 반응', toomany: '이 메시지에는 반응을 더 달 수 없습니다.',
    reactfailed: '반응을 남기지 못했습니다.',
  },
  en: {
    reply: 'Reply', replying: 'Replying to {name}', cancelreply: 'Cancel reply', replies: '{n} replies',
    thread: 'Thread', closethread: 'Close thread', noreplies: 'No replies yet.', parentdeleted: 'Deleted message',
    react: 'Add reaction', reactwith: 'React with {emoji}', toomany: 'This message cannot take more reactions.',
    reactfailed: 'The reaction could not be saved.',
  },
};

/** ct returns the text for key in the UI's language, with {vars} filled in. */
export function ct(key, vars = {}) {
  const s = (dict[getLang()] || dict.ko)[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}
