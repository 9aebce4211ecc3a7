// The space screen: who is on the mic and who listens, the host's and co-hosts' controls, the timeline,
// and the dock (leave, hand, microphone, reactions, volume).

import { describeError } from "../errors.js";
import { onMic } from "../space-state.js";
import { Dock } from "./dock.js";
import { avatar, fill, h, isGuest } from "./dom.js";
import { topics } from "./home.js";
import { recordingMark } from "./recording.js";
import { shareButton } from "./share.js";
import { Timeline } from "./timeline.js";
import { toast, announce } from "./toasts.js";

const ROLE_LABEL = { host: "Host", cohost: "Co-host", speaker: "Speaker", listener: "Listener" };
const ENDED = {
  host_ended: "The host ended this space.",
  failed: "This space stopped because of a server fault.",
  abandoned: "This space ended: its hosts were away too long.",
};

export class SpaceView {
  constructor(app) {
    this.app = app;
    this.root = document.getElementById("space");
    this.head = h("header", { class: "space-head" });
    this.stage = h("section", { class: "panel stage", "aria-labelledby": "stage-title" });
    this.audience = h("section", { class: "panel audience", "aria-labelledby": "audience-title" });
    this.moderation = h("section", { class: "panel moderation", "aria-labelledby": "mod-title" });
    this.timeline = new Timeline(app);
    this.dock = new Dock(app, this);
    this.reactions = h("div", { class: "reaction-float", "aria-hidden": "true" });
    this.talking = new Set(); // the user ids shown as talking (the server's `speaking`)
    this.talkingTurn = 0; // counts `speaking` messages and resets, so a late one never undoes a newer
    this.talkingText = ""; // "Ada and Grace are speaking"
    this.pendingAnnouncement = null;
    this.announced = "";
    this.announcedAt = -Infinity;
    this.built = false;
  }

  build() {
    if (this.built) return;
    this.built = true;
    this.root.replaceChildren(
      this.head,
      h(
        "div",
        { class: "space-grid" },
        h("div", { class: "col main-col" }, this.stage, this.audience),
        h("div", { class: "col side-col" }, this.moderation, this.timeline.el),
      ),
      this.dock.el,
      this.reactions,
    );
    setInterval(() => this.tick(), 200);
  }

  loading() {
    this.build();
    fill(this.head, h("h1", { id: "space-title" }, "Joining…"));
    for (const el of [this.stage, this.audience, this.moderation]) fill(el);
  }

  failed(err) {
    this.build();
    fill(
      this.head,
      h("h1", { id: "space-title" }, "Can't open this space"),
      h("p", { class: "lede" }, describeError(err)),
      h("button", { class: "btn primary", type: "button", onclick: () => this.app.navigate("/") }, "See live spaces"),
    );
    for (const el of [this.stage, this.audience, this.moderation]) fill(el);
    this.timeline.el.hidden = true;
    this.dock.el.hidden = true;
  }

  render() {
    const space = this.app.space;
    if (!space) return;
    this.build();
    this.timeline.el.hidden = false;
    this.dock.el.hidden = false;
    this.renderHead(space);
    this.renderStage(space);
    this.renderAudience(space);
    this.renderModeration(space);
    this.timeline.render();
    this.dock.render();
    this.app.recordingUi.update();
    this.app.show("space");
  }

  renderDock() {
    if (this.app.space) this.dock.render();
  }

  renderHead(space) {
    const live = space.status === "live";
    const gone = space.removed ? "You were removed from this space." : !live ? ENDED[space.endedReason] || "This space has ended." : null;
    fill(
      this.head,
      h(
        "div",
        { class: "head-row" },
        h("span", { class: `pill ${live && !space.removed ? "live" : ""}` }, live ? "LIVE" : "ENDED"),
        recordingMark(live && !space.removed ? space.recording : null),
        topics(space.topics),
        h("span", { class: "spacer" }),
        shareButton(this.app, space.id, space.title),
      ),
      h("h1", { id: "space-title" }, space.title),
      h("p", { class: "host-line" }, "Hosted by ", h("strong", {}, isGuest(space.host) ? `${space.hostName} (guest)` : `@${space.hostName}`)),
      space.description ? h("p", { class: "description" }, space.description) : null,
      h(
        "p",
        { class: "counts", "aria-live": "off" },
        h("span", { "data-count": "listeners" }, `${space.listenerCount} listening`),
        h("span", { "data-count": "speakers" }, `${space.participants.length} on the mic`),
        h("span", { class: "talking-now", id: "talking-now" }, this.talkingText),
      ),
      gone ? h("p", { class: "banner", role: "status" }, gone, " ", h("a", { href: "/", onclick: (e) => { e.preventDefault(); this.app.leave(); } }, "Find another space")) : null,
    );
  }

  renderStage(space) {
    const open = openMenus(this.stage);
    fill(
      this.stage,
      h("h2", { id: "stage-title" }, "On the mic"),
      h("ul", { class: "tiles" }, space.participants.map((p) => this.tile(space, p, open))),
    );
  }

  tile(space, p, open) {
    const me = this.app.identity.user;
    const muted = space.muted.has(p.user);
    const actions = this.actionsFor(space, p);
    return h(
      "li",
      { class: "tile", dataset: { user: p.user, talking: this.talking.has(p.user) ? "yes" : "no" } },
      h("div", { class: "ring" }, avatar(p, "big"), muted ? h("span", { class: "mute-badge", title: "Muted" }, "🔇") : null),
      h("span", { class: "tile-name" }, p.name, p.user === me ? " (you)" : ""),
      h("span", { class: `role ${p.role}` }, ROLE_LABEL[p.role], muted ? " · muted" : ""),
      actionMenu(p, actions, open),
    );
  }

  /** The moderation actions this page's user may take on participant `p`. */
  actionsFor(space, p) {
    const me = this.app.identity.user;
    const my = space.role;
    if (p.user === me || space.status !== "live" || space.removed) return [];
    if (my !== "host" && my !== "cohost") return [];
    const out = [];
    const act = (label, msg, confirmText) =>
      h("button", {
        class: "menu-item",
        type: "button",
        onclick: async (e) => {
          e.target.closest("details")?.removeAttribute("open");
          if (confirmText && !confirm(confirmText)) return;
          await this.app.request(msg).catch(() => {});
        },
      }, label);
    const onStage = onMic(p.role);
    const touchable = my === "host" ? p.role !== "host" : p.role === "speaker" || p.role === "listener";
    if (onStage && !space.muted.has(p.user) && (p.role !== "host" || my === "host")) out.push(act("Mute", { type: "mute", user: p.user }));
    if (!touchable) return out;
    if (p.role === "listener" && !isGuest(p.user)) out.push(act("Invite to speak", { type: "set_role", user: p.user, role: "speaker" }));
    if (my === "host" && p.role === "speaker") out.push(act("Make co-host", { type: "set_role", user: p.user, role: "cohost" }));
    if (my === "host" && p.role === "cohost") out.push(act("Make speaker", { type: "set_role", user: p.user, role: "speaker" }));
    if (onStage) out.push(act("Move to listeners", { type: "set_role", user: p.user, role: "listener" }));
    out.push(act("Remove from space", { type: "remove", user: p.user }, `Remove ${p.name} from this space for good?`));
    if (!isGuest(p.user)) out.push(act("Block", { type: "block", handle: p.name }, `Block @${p.name}? They won't be able to join your spaces.`));
    return out;
  }

  renderAudience(space) {
    const shown = space.listeners;
    const open = openMenus(this.audience);
    fill(
      this.audience,
      h("h2", { id: "audience-title" }, `Listening`, h("span", { class: "count" }, String(space.listenerCount))),
      shown.length
        ? h("ul", { class: "chips" }, shown.map((p) => {
            const actions = this.actionsFor(space, { ...p, role: "listener" });
            return h(
              "li",
              { class: "chip", dataset: { user: p.user } },
              avatar(p, "small"),
              h("span", {}, p.name, isGuest(p.user) ? h("span", { class: "badge guest" }, "guest") : null),
              space.hands.some((x) => x.user === p.user) ? h("span", { title: "Hand raised", "aria-label": "hand raised" }, "✋") : null,
              actionMenu(p, actions, open),
            );
          }))
        : h("p", { class: "empty" }, "No listeners yet. Share the link!"),
      space.listenerCount > shown.length ? h("p", { class: "muted-text" }, `and ${space.listenerCount - shown.length} more`) : null,
    );
  }

  renderModeration(space) {
    const my = space.role;
    const moderator = (my === "host" || my === "cohost") && space.status === "live" && !space.removed;
    this.moderation.hidden = !moderator;
    if (!moderator) return fill(this.moderation);
    const req = (msg) => this.app.request(msg).catch(() => {});
    const invite = h("input", { id: "invite-handle", placeholder: "handle", pattern: "[A-Za-z0-9_]{1,32}", maxlength: "32", "aria-label": "Handle to invite" });
    fill(
      this.moderation,
      h("h2", { id: "mod-title" }, "Requests", h("span", { class: "count" }, String(space.handCount))),
      space.hands.length
        ? h("ul", { class: "requests" }, space.hands.map((p) =>
            h(
              "li",
              { class: "request", dataset: { user: p.user } },
              avatar(p, "small"),
              h("span", { class: "request-name" }, p.name),
              h("button", { class: "btn small primary", type: "button", "data-focus-key": `approve-${p.user}`, "aria-label": `Let ${p.name} speak`, onclick: () => req({ type: "approve_request", user: p.user }) }, "Approve"),
              h("button", { class: "btn small ghost", type: "button", "aria-label": `Decline ${p.name}'s request`, onclick: () => req({ type: "deny_request", user: p.user }) }, "Decline"),
            )))
        : h("p", { class: "empty" }, "No raised hands."),
      h(
        "form",
        {
          class: "inline-form",
          onsubmit: async (e) => {
            e.preventDefault();
            const handle = invite.value.trim().replace(/^@/, "");
            if (!handle) return;
            try {
              await this.app.request({ type: "invite_speaker", handle });
              toast(`@${handle} is invited to speak.`);
              invite.value = "";
            } catch {
              /* told */
            }
          },
        },
        h("label", { for: "invite-handle" }, "Invite to speak"),
        invite,
        h("button", { class: "btn small", type: "submit" }, "Invite"),
      ),
      h(
        "div",
        { class: "mod-row" },
        h("button", { class: "btn small", type: "button", onclick: () => req({ type: "mute_all" }) }, "Mute all"),
        this.app.recordingUi.hostSwitch(space),
        my === "host"
          ? h(
              "label",
              { class: "select-label" },
              "Who may ask: ",
              h("select", { onchange: (e) => req({ type: "set_speaker_policy", policy: e.target.value }) },
                ["everyone", "following", "invited"].map((p) => h("option", { value: p, selected: space.policy === p }, { everyone: "Everyone", following: "People I follow", invited: "Invited only" }[p]))),
            )
          : null,
        my === "host"
          ? h("button", {
              class: "btn small danger",
              type: "button",
              onclick: () => confirm("End this space for everyone?") && req({ type: "end_space" }),
            }, "End space")
          : null,
      ),
    );
  }

  async acceptInvite() {
    try {
      await this.app.request({ type: "accept_invite" });
      this.app.pendingInvite = null;
    } catch {
      /* told */
    }
  }

  reaction(ev) {
    const bubble = h("span", { class: "bubble" }, ev.emoji);
    bubble.style.setProperty("--x", `${10 + Math.random() * 80}%`);
    this.reactions.append(bubble);
    setTimeout(() => bubble.remove(), 2500);
  }

  /** A `speaking` message: whose voices are in the mix. Shown when the page plays the frames it is about
   * (after the jitter buffer's delay), so a ring lights with the voice heard, not ahead of it. */
  speaking(msg) {
    const space = this.app.space;
    if (!space || msg.space_id !== space.id) return;
    const turn = ++this.talkingTurn;
    const delay = this.app.player.running ? Math.min(this.app.player.stats.delayMs || 0, 500) : 0;
    setTimeout(() => {
      if (turn === this.talkingTurn && this.app.space && this.app.space.id === msg.space_id) this.showTalking(new Set(msg.user_ids));
    }, delay);
  }

  /** A new `joined` or `resumed`: nobody is talking until the server says so. */
  resetTalking() {
    this.talkingTurn++;
    this.showTalking(new Set());
  }

  showTalking(now) {
    const changed = now.size !== this.talking.size || [...now].some((u) => !this.talking.has(u));
    this.talking = now;
    const space = this.app.space;
    if (!changed || !space) return;
    const me = this.app.identity.user;
    for (const tile of this.stage.querySelectorAll(".tile")) tile.dataset.talking = now.has(tile.dataset.user) ? "yes" : "no";
    const names = [
      ...(now.has(me) ? ["You"] : []),
      ...space.participants.filter((p) => p.user !== me && now.has(p.user)).map((p) => p.name),
    ];
    const list = names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}` : names[0];
    const text = names.length ? `${list} ${names.length === 1 && names[0] !== "You" ? "is" : "are"} speaking` : "";
    this.talkingText = text;
    const el = document.getElementById("talking-now");
    if (el) el.textContent = text;
    this.pendingAnnouncement = { text, since: performance.now() };
  }

  /** Five times a second: the live region for who is talking, the meters and the delay readout. */
  tick() {
    const space = this.app.space;
    if (!space || this.root.hidden) return;
    // The live region says who is speaking once it has held for a second, at most every 3 s (not at every
    // breath).
    const pending = this.pendingAnnouncement;
    const at = performance.now();
    if (pending && pending.text && at - pending.since >= 1000 && at - this.announcedAt >= 3000) {
      if (pending.text !== this.announced) {
        announce(pending.text);
        this.announced = pending.text;
        this.announcedAt = at;
      }
      this.pendingAnnouncement = null;
    }
    this.dock.tick();
  }
}

/** The user ids whose action menu is open in `el`: a re-render (any event in the room) keeps them open. */
function openMenus(el) {
  return new Set([...el.querySelectorAll("details.menu[open]")].map((menu) => menu.dataset.user));
}

/** Participant `p`'s action menu, open if it was (`open`), or nothing if there is no action. */
function actionMenu(p, actions, open) {
  if (!actions.length) return null;
  return h(
    "details",
    { class: "menu", dataset: { user: p.user }, open: open.has(p.user) },
    h("summary", { "aria-label": `Actions for ${p.name}` }, "⋯"),
    h("div", { class: "menu-items" }, actions),
  );
}
