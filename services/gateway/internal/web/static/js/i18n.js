// UI text in Korean (as in the original) and English. The choice is kept in
// localStorage. The API's own messages are never shown: errors.js picks a
// text here by status and field.

const dict = {
  ko: {
    'skip': '본문으로 건너뛰기',
    'nav.all': '전체보기', 'nav.ask': '질문하기',
    'search.label': '검색', 'search.placeholder': '검색어를 입력하세요',
    'lang.other': 'English',
    'auth.login': '로그인', 'auth.signup': '회원가입', 'auth.logout': '로그아웃',
    'menu.profile': '프로필', 'menu.friends': '친구', 'menu.open': '계정 메뉴',
    'field.email': '이메일', 'field.password': '비밀번호', 'field.password2': '비밀번호 확인',
    'field.nickname': '닉네임', 'field.nickname.hint': '선택 — 비워 두면 이메일 앞부분을 사용합니다',
    'login.title': '다시 오신 걸 환영합니다', 'login.sub': 'Cobra Space에 로그인하세요',
    'login.noaccount': '아직 계정이 없나요?', 'login.throttled': '로그인 시도가 너무 많습니다. 잠시 후 다시 시도하세요.',
    'signup.title': '개발자 커뮤니티에 참여하세요', 'signup.sub': '질문하고, 답하고, 실시간으로 이야기하세요',
    'signup.hasaccount': '이미 계정이 있나요?', 'signup.done': '회원가입이 완료되었습니다. 로그인하세요.',
    'signup.mismatch': '비밀번호가 일치하지 않습니다.',
    'board.all': '전체 게시글', 'board.results': '“{q}” 검색 결과', 'board.categories': '카테고리',
    'board.allcats': '전체', 'board.tags': '인기 태그', 'board.order.new': '최신순', 'board.order.hit': '조회순',
    'board.order': '정렬', 'board.more': '더 보기', 'board.empty': '아직 게시글이 없습니다.',
    'board.emptysearch': '검색 결과가 없습니다.', 'board.write': '질문하기', 'board.clear': '필터 해제',
    'board.hero': '개발자들의 라이브 채팅 커뮤니티', 'board.herosub': '글마다 열리는 실시간 채팅방에서 함께 문제를 풀어 보세요.',
    'post.notags': '태그 없음', 'post.views': '조회 {n}', 'post.edit': '수정', 'post.delete': '삭제',
    'post.confirmdelete': '이 글과 채팅방을 삭제할까요? 되돌릴 수 없습니다.', 'post.deleted': '글을 삭제했습니다.',
    'post.notfound': '글을 찾을 수 없습니다.', 'post.updated': '수정됨 {d}', 'post.back': '목록으로',
    'write.title': '질문하기', 'write.edit': '글 수정', 'write.field.title': '제목', 'write.field.category': '카테고리',
    'write.field.tags': '태그', 'write.tags.hint': '쉼표로 구분 (예: go, grpc)', 'write.field.content': '내용',
    'write.content.hint': 'Markdown을 지원합니다. 코드 블록은 ```언어 로 시작하세요.',
    'write.preview': '미리보기', 'write.previewempty': '미리볼 내용이 없습니다.', 'write.submit': '등록', 'write.save': '저장',
    'write.cancel': '취소', 'write.choose': '카테고리 선택', 'write.notwriter': '작성자만 수정할 수 있습니다.',
    'chat.title': '라이브 채팅', 'chat.connecting': '연결 중…', 'chat.online': '연결됨', 'chat.reconnecting': '재연결 중…',
    'chat.closed': '연결 끊김', 'chat.placeholder': '메시지를 입력하세요', 'chat.placeholder.off': '연결되면 입력할 수 있습니다',
    'chat.send': '보내기', 'chat.join': '{name}님이 입장했습니다.', 'chat.leave': '{name}님이 퇴장했습니다.',
    'chat.typing': '{names}님이 입력 중…', 'chat.roomdeleted': '채팅창이 삭제되었습니다', 'chat.new': '새 메시지 ↓',
    'chat.loginneeded': '로그인하면 채팅에 참여할 수 있습니다.', 'chat.people': '접속 중 {n}명', 'chat.start': '대화의 시작입니다',
    'chat.edited': '(수정됨)', 'chat.deletedmsg': '삭제된 메시지입니다.', 'chat.hiddenmsg': '차단한 사용자의 메시지입니다.', 'chat.edit': '수정', 'chat.delete': '삭제',
    'chat.save': '저장', 'chat.cancel': '취소', 'chat.loadingolder': '이전 메시지 불러오는 중…', 'chat.empty': '첫 메시지를 남겨 보세요!',
    'chat.err.rate_limited': '메시지를 너무 빨리 보내고 있습니다.', 'chat.err.message_too_long': '메시지는 2,000자까지 보낼 수 있습니다.',
    'chat.err.failed': '전송 실패', 'chat.err.forbidden': '내 메시지만 바꿀 수 있습니다.', 'chat.err.not_found': '메시지를 찾을 수 없습니다.',
    'chat.err.invalid_request': '보낼 수 없는 메시지입니다.', 'chat.err.internal': '문제가 발생했습니다. 잠시 후 다시 시도하세요.', 'chat.sessionexpired': '세션이 만료되었습니다. 다시 로그인하세요.',
    'profile.title': '프로필', 'profile.edit': '프로필 수정', 'profile.bio': '소개', 'profile.skills': '기술',
    'profile.interests': '관심사', 'profile.status': '상태', 'profile.private': '비공개 계정',
    'profile.private.hint': '친구로 추가한 사람만 내 프로필을 볼 수 있습니다', 'profile.contact': '연락처',
    'profile.picture': '프로필 사진', 'profile.picture.choose': '사진 선택', 'profile.saved': '프로필을 저장했습니다.',
    'profile.none': '없음', 'profile.nobio': '아직 소개가 없습니다.', 'profile.friends': '친구 {n}명',
    'status.available': '대화 가능', 'status.away': '자리 비움', 'status.busy': '바쁨',
    'friends.title': '친구', 'friends.search': '닉네임 또는 정확한 이메일로 사용자 찾기', 'friends.searchbtn': '찾기', 'friends.add': '친구 추가',
    'friends.remove': '삭제', 'friends.view': '프로필 보기', 'friends.empty': '아직 친구가 없습니다. 이메일로 찾아 추가해 보세요.',
    'friends.noresults': '일치하는 사용자가 없습니다.', 'friends.already': '친구', 'friends.you': '나', 'friends.private': '비공개',
    'friends.mine': '내 친구', 'friends.results': '검색 결과',
    'err.required': '필수 항목입니다.', 'err.email.invalid': '올바른 이메일 주소를 입력하세요.', 'err.exists': '이미 사용 중입니다.',
    'err.password.short': '비밀번호는 8자 이상이어야 합니다.', 'err.password.common': '너무 흔한 비밀번호입니다.',
    'err.password.numeric': '비밀번호를 숫자로만 만들 수 없습니다.', 'err.password.similar': '비밀번호가 다른 정보와 너무 비슷합니다.',
    'err.toolong': '너무 깁니다.', 'err.choice': '선택할 수 없는 값입니다.', 'err.notexist': '존재하지 않는 항목입니다.',
    'err.unknownfield': '알 수 없는 항목입니다.', 'err.friend.self': '자기 자신은 친구로 추가할 수 없습니다.',
    'err.image': '이미지 파일이 아니거나 손상된 파일입니다. PNG, JPEG, GIF, WebP 파일을 선택하세요.',
    'err.image.big': '사진이 너무 큽니다. 4096×4096 픽셀 이하의 사진을 사용하세요.',
    'err.login': '이메일 또는 비밀번호가 올바르지 않습니다.', 'err.invalidtext': '사용할 수 없는 문자가 있습니다.',
    'err.field': '입력값을 확인하세요.', 'err.network': '서버에 연결할 수 없습니다. 네트워크를 확인하세요.',
    'err.private': '비공개 계정입니다. 친구만 프로필을 볼 수 있습니다.', 'err.forbidden': '권한이 없습니다.',
    'err.nouser': '해당 이메일의 사용자가 없습니다.', 'err.notfound': '찾을 수 없습니다.',
    'err.throttled': '요청이 너무 많습니다. 잠시 후 다시 시도하세요.', 'err.generic': '요청을 처리할 수 없습니다.',
    'chat.retry': '다시 보내기', 'chat.discard': '삭제', 'chat.actions': '메시지 메뉴', 'chat.confirmdelete': '이 메시지를 삭제할까요?',
    'chat.jump': '채팅으로 이동', 'auth.loggedout': '로그아웃했습니다.', 'friends.added': '{email}님을 친구로 추가했습니다.',
    'friends.removed': '{email}님을 친구 목록에서 삭제했습니다.', 'friends.more': '더 보기', 'login.welcome': '{name}님 환영합니다.',
    'write.tags.max': '태그는 10개까지 넣을 수 있습니다.', 'write.image': '이미지 넣기', 'write.imageuploading': '이미지 올리는 중…',
    'common.loading': '불러오는 중…', 'common.error': '문제가 발생했습니다. 잠시 후 다시 시도하세요.',
    'common.loginrequired': '로그인이 필요합니다.', 'common.notfound': '페이지를 찾을 수 없습니다.', 'common.home': '홈으로',
    'common.save': '저장', 'common.cancel': '취소', 'common.yes': '삭제', 'common.no': '취소', 'common.tooLarge': '파일이 너무 큽니다 (최대 5MB).',
    // Conversations (#12): my rooms, notifications, unread, mentions.
    'rooms.title': '내 채팅방', 'rooms.empty': '아직 참여한 채팅방이 없습니다. 글의 채팅에 참여해 보세요.',
    'rooms.unread': '읽지 않은 메시지 {n}개', 'rooms.nomessages': '아직 메시지가 없습니다.',
    'notif.title': '알림', 'notif.titlecount': '알림 (읽지 않음 {n}개)', 'notif.enable': '브라우저 알림 켜기',
    'notif.readall': '모두 읽음', 'notif.empty': '새 알림이 없습니다.',
    'notif.mention': '{name}님이 회원님을 언급했습니다', 'notif.reply': '{name}님이 회원님의 메시지에 답장했습니다',
    'notif.dm': '{name}님이 메시지를 보냈습니다', 'notif.friend': '{name}님이 회원님을 친구로 추가했습니다', 'notif.other': '{name}님의 새 소식',
    'chat.unreadline': '여기부터 읽지 않은 메시지', 'chat.jumpunread': '↑ 첫 번째 안 읽은 메시지', 'chat.mentionlist': '언급할 사람',
  },
  en: {
    'skip': 'Skip to content',
    'nav.all': 'All posts', 'nav.ask': 'Ask a question',
    'search.label': 'Search', 'search.placeholder': 'Search posts',
    'lang.other': '한국어',
    'auth.login': 'Log in', 'auth.signup': 'Sign up', 'auth.logout': 'Log out',
    'menu.profile': 'Profile', 'menu.friends': 'Friends', 'menu.open': 'Account menu',
    'field.email': 'Email', 'field.password': 'Password', 'field.password2': 'Confirm password',
    'field.nickname': 'Nickname', 'field.nickname.hint': 'Optional — defaults to the part of your email before @',
    'login.title': 'Welcome back', 'login.sub': 'Log in to Cobra Space',
    'login.noaccount': 'No account yet?', 'login.throttled': 'Too many attempts. Please try again later.',
    'signup.title': 'Join the developer community', 'signup.sub': 'Ask, answer and talk in real time',
    'signup.hasaccount': 'Already have an account?', 'signup.done': 'You are signed up. Please log in.',
    'signup.mismatch': 'The passwords do not match.',
    'board.all': 'All posts', 'board.results': 'Results for “{q}”', 'board.categories': 'Categories',
    'board.allcats': 'All', 'board.tags': 'Popular tags', 'board.order.new': 'Newest', 'board.order.hit': 'Most viewed',
    'board.order': 'Order', 'board.more': 'Load more', 'board.empty': 'No posts yet.',
    'board.emptysearch': 'Nothing matched your search.', 'board.write': 'Ask a question', 'board.clear': 'Clear filters',
    'board.hero': 'A live chat community for programmers', 'board.herosub': 'Every post opens a real-time room — solve problems together.',
    'post.notags': 'No Tags', 'post.views': '{n} views', 'post.edit': 'Edit', 'post.delete': 'Delete',
    'post.confirmdelete': 'Delete this post and its chat room? This cannot be undone.', 'post.deleted': 'Post deleted.',
    'post.notfound': 'Post not found.', 'post.updated': 'edited {d}', 'post.back': 'Back to list',
    'write.title': 'Ask a question', 'write.edit': 'Edit post', 'write.field.title': 'Title', 'write.field.category': 'Category',
    'write.field.tags': 'Tags', 'write.tags.hint': 'Comma-separated (e.g. go, grpc)', 'write.field.content': 'Content',
    'write.content.hint': 'Markdown is supported. Start code blocks with ```language.',
    'write.preview': 'Preview', 'write.previewempty': 'Nothing to preview yet.', 'write.submit': 'Publish', 'write.save': 'Save',
    'write.cancel': 'Cancel', 'write.choose': 'Choose a category', 'write.notwriter': 'Only the writer can edit this post.',
    'chat.title': 'Live chat', 'chat.connecting': 'Connecting…', 'chat.online': 'Connected', 'chat.reconnecting': 'Reconnecting…',
    'chat.closed': 'Disconnected', 'chat.placeholder': 'Write a message', 'chat.placeholder.off': 'You can type once connected',
    'chat.send': 'Send', 'chat.join': '{name} joined.', 'chat.leave': '{name} left.',
    'chat.typing': '{names} is typing…', 'chat.roomdeleted': 'This chat room was deleted', 'chat.new': 'New messages ↓',
    'chat.loginneeded': 'Log in to join the chat.', 'chat.people': '{n} online', 'chat.start': 'This is the start of the conversation',
    'chat.edited': '(edited)', 'chat.deletedmsg': 'This message was deleted.', 'chat.hiddenmsg': 'A message from a user you blocked.', 'chat.edit': 'Edit', 'chat.delete': 'Delete',
    'chat.save': 'Save', 'chat.cancel': 'Cancel', 'chat.loadingolder': 'Loading older messages…', 'chat.empty': 'Be the first to say something!',
    'chat.err.rate_limited': 'You are sending messages too fast.', 'chat.err.message_too_long': 'Messages can be up to 2,000 characters.',
    'chat.err.failed': 'Not sent', 'chat.err.forbidden': 'You can only change your own messages.', 'chat.err.not_found': 'Message not found.',
    'chat.err.invalid_request': 'This message cannot be sent.', 'chat.err.internal': 'Something went wrong. Please try again.', 'chat.sessionexpired': 'Your session expired. Please log in again.',
    'profile.title': 'Profile', 'profile.edit': 'Edit profile', 'profile.bio': 'Bio', 'profile.skills': 'Skills',
    'profile.interests': 'Interests', 'profile.status': 'Status', 'profile.private': 'Private account',
    'profile.private.hint': 'Only people you added as friends can see your profile', 'profile.contact': 'Contact number',
    'profile.picture': 'Profile picture', 'profile.picture.choose': 'Choose a picture', 'profile.saved': 'Profile saved.',
    'profile.none': 'None', 'profile.nobio': 'No bio yet.', 'profile.friends': '{n} friends',
    'status.available': 'Available', 'status.away': 'Away', 'status.busy': 'Busy',
    'friends.title': 'Friends', 'friends.search': 'Find people by nickname or exact email', 'friends.searchbtn': 'Search', 'friends.add': 'Add friend',
    'friends.remove': 'Remove', 'friends.view': 'View profile', 'friends.empty': 'No friends yet. Find people by email and add them.',
    'friends.noresults': 'No users match.', 'friends.already': 'Friend', 'friends.you': 'You', 'friends.private': 'Private',
    'friends.mine': 'My friends', 'friends.results': 'Search results',
    'err.required': 'This field is required.', 'err.email.invalid': 'Enter a valid email address.', 'err.exists': 'This is already taken.',
    'err.password.short': 'The password must be at least 8 characters.', 'err.password.common': 'This password is too common.',
    'err.password.numeric': 'The password cannot be only digits.', 'err.password.similar': 'The password is too similar to your other details.',
    'err.toolong': 'This is too long.', 'err.choice': 'This value is not allowed.', 'err.notexist': 'This item does not exist.',
    'err.unknownfield': 'Unknown field.', 'err.friend.self': 'You cannot add yourself as a friend.',
    'err.image': 'This is not an image or the file is damaged. Choose a PNG, JPEG, GIF or WebP file.',
    'err.image.big': 'The picture is too large. Use one of at most 4096×4096 pixels.',
    'err.login': 'The email or password is wrong.', 'err.invalidtext': 'The text contains characters that are not allowed.',
    'err.field': 'Please check this value.', 'err.network': 'Cannot reach the server. Check your connection.',
    'err.private': 'This account is private. Only friends can see the profile.', 'err.forbidden': 'You are not allowed to do this.',
    'err.nouser': 'No user has this email.', 'err.notfound': 'Not found.',
    'err.throttled': 'Too many requests. Please try again shortly.', 'err.generic': 'The request could not be carried out.',
    'chat.retry': 'Retry', 'chat.discard': 'Discard', 'chat.actions': 'Message menu', 'chat.confirmdelete': 'Delete this message?',
    'chat.jump': 'Go to chat', 'auth.loggedout': 'You are logged out.', 'friends.added': '{email} is now your friend.',
    'friends.removed': '{email} was removed from your friends.', 'friends.more': 'Load more', 'login.welcome': 'Welcome, {name}.',
    'write.tags.max': 'Up to 10 tags.', 'write.image': 'Insert image', 'write.imageuploading': 'Uploading image…',
    'common.loading': 'Loading…', 'common.error': 'Something went wrong. Please try again.',
    'common.loginrequired': 'Please log in first.', 'common.notfound': 'Page not found.', 'common.home': 'Home',
    'common.save': 'Save', 'common.cancel': 'Cancel', 'common.yes': 'Delete', 'common.no': 'Cancel', 'common.tooLarge': 'The file is too large (5 MB max).',
    // Conversations (#12): my rooms, notifications, unread, mentions.
    'rooms.title': 'My rooms', 'rooms.empty': 'You have not joined a room yet. Join the chat of a post.',
    'rooms.unread': '{n} unread messages', 'rooms.nomessages': 'No messages yet.',
    'notif.title': 'Notifications', 'notif.titlecount': 'Notifications ({n} unread)', 'notif.enable': 'Turn on browser notifications',
    'notif.readall': 'Mark all read', 'notif.empty': 'No new notifications.',
    'notif.mention': '{name} mentioned you', 'notif.reply': '{name} replied to your message',
    'notif.dm': '{name} sent you a message', 'notif.friend': '{name} added you as a friend', 'notif.other': 'News from {name}',
    'chat.unreadline': 'Unread messages from here', 'chat.jumpunread': '↑ First unread message', 'chat.mentionlist': 'People to mention',
  },
};

const storageKey = 'cobra.lang';
let lang = (() => {
  try { return localStorage.getItem(storageKey) === 'en' ? 'en' : 'ko'; } catch { return 'ko'; }
})();

/** t returns the UI text for key in the current language, with {name} placeholders filled. */
export function t(key, vars = {}) {
  const s = dict[lang][key] ?? dict.ko[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/** getLang returns "ko" or "en". */
export const getLang = () => lang;

/** setLang switches the language, remembers it, and updates the static page text. */
export function setLang(next) {
  lang = next === 'en' ? 'en' : 'ko';
  try { localStorage.setItem(storageKey, lang); } catch { /* private mode: not remembered */ }
  applyStatic();
}

/** applyStatic translates the elements of index.html marked with data-i18n*. */
export function applyStatic(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
}
