// A space's post timeline: pinned posts, paging back with `get_posts`, and the composer.

import { describeError } from "../errors.js";
import { onMic } from "../space-state.js";
import { avatar, fill, h, isGuest, timeText } from "./dom.js";
import { toast } from "./toasts.js";

export class Timeline {
  constructor(app) {
    this.app = app;
    this.el = h("section", { class: "panel timeline", "aria-labelledby": "timeline-title" });
    this.pins = h("div", { class: "pins" });
    this.older = h("div", { class: "older" });
    this.list = h("ol", { class: "posts", "aria-label": "Posts" });
    this.input = h("input", {
      id: "post-text",
      maxlength: "1000",
      placeholder: "Share a thought or a link",
      autocomplete: "off",
      "aria-label": "Post to the space",
    });
    this.composer = h(
      "form",
      { class: "composer", onsubmit: (e) => this.post(e) },
      this.input,
      h("button", { class: "btn primary", type: "submit" }, "Post"),
    );
    this.el.append(h("h2", { id: "timeline-title" }, "Timeline"), this.pins, this.older, this.list, this.composer);
    this.shown = 0;
    this.loading = false;
  }

  render() {
    const space = this.app.space;
    if (!space) return;
    const canPin = onMic(space.role) && space.status === "live";
    fill(
      this.pins,
      space.pinned.length
        ? [h("h3", { class: "pins-title" }, "Pinned"), ...space.pinned.map((id) => this.pinned(id, canPin))]
        : [],
    );
    fill(
      this.older,
      space.morePosts
        ? h("button", { class: "btn ghost small", type: "button", "data-focus-key": "older", onclick: () => this.loadOlder() },
            this.loading ? "Loading…" : "Show earlier posts")
        : null,
    );
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    fill(
      this.list,
      space.timeline.length ? space.timeline.map((post) => this.postItem(post, canPin, space)) : h("li", { class: "empty" }, "No posts yet."),
    );
    if (atBottom || this.shown === 0) this.list.scrollTop = this.list.scrollHeight;
    this.shown = space.timeline.length;
    const guest = this.app.identity.isGuest;
    this.input.disabled = guest || space.status !== "live";
    this.input.placeholder = guest ? "Sign up to post" : space.status === "live" ? "Share a thought or a link" : "The space has ended";
  }

  pinned(id, canPin) {
    const post = this.app.space.pinnedPosts.get(id);
    if (!post) return h("p", { class: "post pinned" }, `Post ${id}`);
    return h(
      "div",
      { class: "post pinned" },
      h("span", { class: "pin-icon", "aria-hidden": "true" }, "📌"),
      h("span", { class: "post-author" }, post.name),
      h("p", { class: "post-text" }, post.text),
      canPin ? h("button", { class: "btn ghost small", type: "button", onclick: () => this.pin(id, false) }, "Unpin") : null,
    );
  }

  postItem(post, canPin, space) {
    const pinned = space.pinned.includes(post.id);
    return h(
      "li",
      { class: "post" },
      avatar(post, "small"),
      h(
        "div",
        { class: "post-body" },
        h(
          "div",
          { class: "post-meta" },
          h("span", { class: "post-author" }, post.name, isGuest(post.user) ? " (guest)" : ""),
          h("time", { datetime: new Date(post.at).toISOString() }, timeText(post.at)),
          canPin
            ? h("button", {
                class: "link-btn",
                type: "button",
                onclick: () => this.pin(post.id, !pinned),
                "aria-label": `${pinned ? "Unpin" : "Pin"} the post by ${post.name}`,
              }, pinned ? "Unpin" : "Pin")
            : null,
        ),
        h("p", { class: "post-text" }, post.text),
      ),
    );
  }

  async pin(id, on) {
    await this.app.request({ type: on ? "pin_post" : "unpin_post", post_id: id }).catch(() => {});
  }

  async post(e) {
    e.preventDefault();
    const text = this.input.value.trim();
    if (!text) return;
    try {
      await this.app.request({ type: "share_post", text });
      this.input.value = "";
    } catch {
      /* told */
    }
  }

  async loadOlder() {
    const space = this.app.space;
    if (!space || this.loading) return;
    this.loading = true;
    this.render();
    try {
      const before = space.timeline.length ? space.timeline[0].id : space.postCount + 1;
      const page = await this.app.conn.request({ type: "get_posts", space_id: space.id, before_id: before, limit: 50 });
      if (this.app.space === space) {
        const known = new Set(space.timeline.map((p) => p.id));
        space.timeline = [...page.posts.filter((p) => !known.has(p.id)), ...space.timeline];
        space.morePosts = page.more;
      }
    } catch (err) {
      toast(describeError(err), { kind: "error" });
    } finally {
      this.loading = false;
      this.render();
    }
  }
}
