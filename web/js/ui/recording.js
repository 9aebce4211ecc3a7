// Recording in a live space: the mark everyone sees, the live region that says when recording starts and
// stops, the consent prompt for people on the mic (give or decline; withdraw or give later from the dock),
// and the host's switch. The server keeps a voice out of the recording until its speaker consents
// (docs/recording.md); this page only asks and says.

import { onMic } from "../space-state.js";
import { h } from "./dom.js";
import { toast } from "./toasts.js";

/** The "● REC" mark of a space that is being recorded (null when it is not). */
export function recordingMark(recording) {
  if (!recording) return null;
  return h(
    "span",
    { class: "pill rec", title: "This space is being recorded", "data-recording": "on" },
    h("span", { class: "rec-dot", "aria-hidden": "true" }),
    h("span", { "aria-hidden": "true" }, "REC"),
    h("span", { class: "sr-only" }, "Recording"),
  );
}

/** My consent in the current recording: "given", "declined" (or withdrawn), or null (not asked yet). */
export function myConsent(space, me) {
  return space.recording ? space.recording.consents.get(me) || null : null;
}

export class RecordingUi {
  constructor(app) {
    this.app = app;
    // One live region for the recording's state, outside the views that are rebuilt at each render (a region
    // created anew is not announced).
    this.status = document.getElementById("recording-status");
    this.dialog = document.getElementById("consent-dialog");
    this.said = null; // the recording id (or "off") the live region last spoke of
    this.asked = null; // the recording id the prompt was shown for
    document.getElementById("consent-give").addEventListener("click", () => this.answer(true));
    document.getElementById("consent-decline").addEventListener("click", () => this.answer(false));
    // Escape closes the prompt without an answer: the voice stays out (as until any answer), and the dock
    // offers the choice again.
  }

  /** After every change of the space: announce a start or stop, and ask for consent when it is needed. */
  update() {
    const space = this.app.space;
    const recording = space && space.status === "live" && !space.removed ? space.recording : null;
    const now = recording ? recording.id : "off";
    if (this.said !== null && now !== this.said) {
      this.status.textContent = recording
        ? "This space is now being recorded."
        : "Recording stopped.";
    } else if (this.said === null && recording) {
      this.status.textContent = "This space is being recorded.";
    }
    this.said = space ? now : null;
    const needed = recording && onMic(space.role) && myConsent(space, this.app.identity.user) === null;
    if (needed && this.asked !== recording.id && !this.dialog.open) {
      this.asked = recording.id;
      this.dialog.showModal();
      document.getElementById("consent-give").focus();
    } else if (!needed && this.dialog.open) {
      this.dialog.close();
    }
  }

  /** Leaving a space: nothing more to say or ask. */
  reset() {
    this.said = null;
    this.asked = null;
    this.status.textContent = "";
    if (this.dialog.open) this.dialog.close();
  }

  async answer(consent) {
    if (this.dialog.open) this.dialog.close();
    await this.setConsent(consent);
  }

  async setConsent(consent) {
    try {
      await this.app.request({ type: "recording_consent", consent });
      toast(consent ? "Your voice is in the recording from now on." : "Your voice is kept out of the recording. The room still hears you.");
    } catch {
      /* told */
    }
  }

  /** The dock's control for someone on the mic while recording: what happens to their voice, and the switch. */
  dockControl(space) {
    if (!space.recording || !onMic(space.role) || space.status !== "live") return null;
    const mine = myConsent(space, this.app.identity.user);
    const given = mine === "given";
    return h(
      "button",
      {
        class: `btn consent ${given ? "given" : ""}`,
        type: "button",
        "data-focus-key": "consent",
        "aria-pressed": given ? "true" : "false",
        title: given ? "Your voice is in the recording: press to withdraw" : "Your voice is kept out of the recording: press to include it",
        onclick: () => (mine === null ? this.dialog.showModal() : this.setConsent(!given)),
      },
      given ? "● Recording my voice" : "○ Voice not recorded",
    );
  }

  /** The host's (and co-hosts') switch, in the moderation panel. */
  hostSwitch(space) {
    const on = Boolean(space.recording);
    return h(
      "button",
      {
        class: `btn small ${on ? "danger" : ""}`,
        type: "button",
        "data-focus-key": "record",
        "aria-pressed": on ? "true" : "false",
        onclick: () => this.app.request({ type: "set_recording", on: !on }).catch(() => {}),
      },
      on ? "■ Stop recording" : "● Start recording",
    );
  }
}
