// What the page does with a notification that is not an event of the space it shows (docs/protocol.md,
// Notifications): an invitation to speak, a reminder's space going live or cancelled, the host's reminder, the
// server closing the WebRTC peer connection, lagging, an error about the microphone's audio.

import { describeError } from "../errors.js";
import { toast } from "./toasts.js";

/** Tells the person about `msg` (a notification), with an action where there is one to take. */
export function showNotice(app, msg) {
  switch (msg.type) {
    case "dm_received": {
      const m = msg.message;
      if (m.kind === "invite" && m.invite) {
        app.pendingInvite = m.invite.space_id;
        toast(`@${m.sender} invited you to speak.`, {
          sticky: true,
          action: ["Join and speak", () => app.acceptFromInvite(m.invite.space_id)],
        });
      } else if (m.kind === "space_starting" && m.invite) {
        toast(`A space you asked to be reminded of is live.`, {
          action: ["Listen", () => app.join(m.invite.space_id)],
        });
      } else if (m.kind === "text") {
        toast(`Message from @${m.sender}: ${m.text.slice(0, 200)}`);
      }
      break;
    }
    case "space_starting":
      toast(`“${msg.title}” by @${msg.host_name} is live now.`, {
        sticky: true,
        action: ["Listen", () => app.join(msg.space_id)],
      });
      break;
    case "space_cancelled":
      toast(`“${msg.title}” was cancelled.`);
      app.home.refresh();
      break;
    case "host_reminder":
      toast(`Your space “${msg.title}” is about to start.`, {
        sticky: true,
        action: ["Start now", () => app.home.startScheduled(msg.scheduled_id)],
      });
      break;
    case "rtc_closed":
      app.voice.rtcClosed(msg.reason);
      break;
    case "lagging":
      console.info(`stoa: the server dropped ${msg.dropped} audio messages (this page read too slowly)`);
      break;
    case "error":
      if (performance.now() - app.lastAudioError > 5000) {
        app.lastAudioError = performance.now();
        toast(describeError(msg), { kind: "warn" });
      }
      break;
    default:
      break;
  }
}
