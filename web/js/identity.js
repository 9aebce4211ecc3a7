// Who this page is to the server, kept in localStorage: an account's session token (from `logged_in`), or
// a guest's `guest_token` and name, so a reload or a reconnection comes back as the same user id.

const TOKEN = "stoa.token";
const GUEST_TOKEN = "stoa.guest_token";
const GUEST_NAME = "stoa.guest_name";

function randomGuestName() {
  const digits = crypto.getRandomValues(new Uint16Array(1))[0] % 10000;
  return `listener_${String(digits).padStart(4, "0")}`;
}

export class Identity {
  constructor(onChange) {
    this.onChange = onChange;
    this.user = null; // the server-issued id, from `welcome`
    this.name = null;
    this.handle = null; // null for a guest
    this.lastRefusal = null;
    if (!localStorage.getItem(GUEST_NAME)) localStorage.setItem(GUEST_NAME, randomGuestName());
  }

  get isGuest() {
    return this.handle === null;
  }

  get token() {
    return localStorage.getItem(TOKEN);
  }

  /** The fields of the next `hello`. */
  hello() {
    const token = localStorage.getItem(TOKEN);
    if (token) return { token };
    const name = localStorage.getItem(GUEST_NAME);
    const guestToken = localStorage.getItem(GUEST_TOKEN);
    return guestToken ? { guest_token: guestToken, name } : { name };
  }

  refused(code) {
    this.lastRefusal = code;
    if (code === "token_invalid" || code === "token_expired") localStorage.removeItem(TOKEN);
    else if (code === "guest_token_invalid") localStorage.removeItem(GUEST_TOKEN);
    else if (code === "handle_taken" || code === "bad_message") localStorage.setItem(GUEST_NAME, randomGuestName());
  }

  welcomed(welcome) {
    this.user = welcome.user;
    this.name = welcome.name;
    this.handle = welcome.handle;
    if (welcome.guest_token) localStorage.setItem(GUEST_TOKEN, welcome.guest_token);
    this.onChange();
  }

  loggedIn(reply) {
    localStorage.setItem(TOKEN, reply.token);
    this.user = reply.user;
    this.name = reply.handle;
    this.handle = reply.handle;
    this.onChange();
  }

  loggedOut() {
    localStorage.removeItem(TOKEN);
  }
}
