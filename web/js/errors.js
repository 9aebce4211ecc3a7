// A message people can act on, for every error code and close code of docs/protocol.md.

export const ERROR_MESSAGES = {
  bad_message: "The app sent something the server could not read. Reload the page and try again.",
  unknown_type: "This server does not know that request. It may be an older version.",
  not_authenticated: "Still connecting to the server. Try again in a moment.",
  already_authenticated: "Already signed in on this connection.",
  unsupported_protocol: "This server speaks another version of Stoa. Reload the page.",
  rate_limited: "Too many tries in a short time. Wait a moment, then try again.",
  limit_reached: "You have reached a limit: one live space at a time, and at most 20 scheduled spaces.",
  guest_token_invalid: "Your guest pass is no longer valid. You are listening as a new guest.",
  internal: "Something went wrong on the server. Check the space, then try again.",
  no_such_space: "That space does not exist. Check the link.",
  space_ended: "That space has ended.",
  not_allowed: "Your role in this space does not allow that.",
  not_in_space: "You are not in a space any more.",
  already_in_space: "You are already in a space. Leave it first.",
  no_such_participant: "That person is no longer in the space.",
  speaker_limit: "The stage is full: 13 people are already on the mic.",
  cohost_limit: "This space already has 2 co-hosts.",
  not_a_speaker: "Only people on the mic can do that.",
  muted: "You are muted. Unmute to be heard.",
  removed: "You were removed from this space and cannot join it again.",
  no_such_post: "That post no longer exists.",
  no_such_request: "That hand is no longer raised.",
  not_eligible: "The host's rules do not let you ask to speak here (or a guest cannot be brought on the mic).",
  not_invited: "There is no invitation to speak for you here, or it was already used.",
  bad_argument: "Some of what you typed is out of range. Check the lengths and try again.",
  space_unavailable: "The space is busy or restarting. Try again in a moment.",
  account_required: "You need an account for that. Sign up or log in: guests can only listen.",
  protected_account: "Protected accounts cannot host spaces. Turn protection off in your account first.",
  handle_taken: "That handle is taken. Choose another one.",
  bad_credentials: "That handle and password do not match.",
  token_invalid: "Your session has ended. Log in again.",
  token_expired: "Your session has expired. Log in again.",
  no_such_account: "No account has that handle.",
  blocked: "You cannot do that: one of you has blocked the other.",
  no_such_scheduled_space: "That scheduled space does not exist.",
  scheduled_space_over: "That scheduled space was cancelled or has already started.",
  not_resumable: "Your place in the space was not kept. Joining it again…",
  account_suspended: "This account is suspended. Contact the people who run this server.",
  bad_sdp: "Your browser's audio connection was refused. Speaking through the page's own connection instead.",
  rtc_failed: "The audio connection could not be set up. Speaking through the page's own connection instead.",
  not_recording: "This space is not being recorded now.",
  recording_unavailable: "This server cannot record right now. The space goes on without a recording.",
  no_such_recording: "That recording does not exist, was deleted, or its host keeps it private.",
  recording_in_progress: "That space is still being recorded. Stop the recording first.",
  schema_too_new: "The server's data is from a newer version of Stoa. Tell the server's operator.",
};

export const CLOSE_MESSAGES = {
  1000: "Disconnected. Reload the page to connect again.",
  1001: "The server is restarting. Reconnecting…",
  1002: "The server could not read this page's connection. Reload the page.",
  1003: "The server could not read this page's messages. Reload the page.",
  1006: "The connection dropped. Reconnecting…",
  1007: "The server could not read this page's connection. Reload the page.",
  1008: "The server closed the connection: this page sent too many unreadable or too frequent messages, or audio faster than real time. Reload the page.",
  1009: "A message was too large for the server. Reload the page.",
  1011: "The server hit a problem with this connection. Reconnecting…",
  4000: "Your connection was too slow to keep up. Reconnecting…",
  4001: "The connection stopped answering. Reconnecting…",
  4002: "You opened Stoa somewhere else: this tab is no longer connected.",
  4003: "Connecting took too long. Reconnecting…",
  4004: "The server is restarting or moving. Reconnecting…",
  4005: "This account is suspended.",
};

/** The human message for an error reply (`{code, message, retry_after_ms}`) or an Error carrying `code`. */
export function describeError(err) {
  const code = err && err.code;
  let text = ERROR_MESSAGES[code] || (err && err.message) || "Something went wrong.";
  if (code === "rate_limited" && err.retry_after_ms) {
    text = `Too many tries in a short time. Try again in ${Math.ceil(err.retry_after_ms / 1000)} s.`;
  }
  return text;
}

// 1008 has two causes; the close's reason (docs/protocol.md, Close codes) says which, when it came.
const POLICY_REASONS = {
  "audio faster than real time": "The server closed the connection: this page sent audio faster than real time. Reload the page.",
  "too many refused messages in a row": "The server closed the connection after too many unreadable or too frequent messages. Reload the page.",
};

/** The human message for a close `code`, more precise with its `reason` where the code has several causes. */
export function describeClose(code, reason) {
  if (code === 1008 && POLICY_REASONS[reason]) return POLICY_REASONS[reason];
  return CLOSE_MESSAGES[code] || "The connection dropped. Reconnecting…";
}
