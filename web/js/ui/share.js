// The share link of a space (`/s/<space_id>`): opens it directly, for guests too.

import { h } from "./dom.js";
import { toast } from "./toasts.js";

export function shareUrl(spaceId) {
  return `${location.origin}/s/${spaceId}`;
}

export function shareButton(app, spaceId, title) {
  return h(
    "button",
    {
      class: "btn ghost",
      type: "button",
      "aria-label": `Copy the link to ${title}`,
      onclick: async () => {
        const url = shareUrl(spaceId);
        try {
          if (navigator.share && matchMedia("(pointer: coarse)").matches) await navigator.share({ title, url });
          else {
            await navigator.clipboard.writeText(url);
            toast(`Link copied: ${url}`);
          }
        } catch {
          toast(`Share this link: ${url}`, { sticky: true });
        }
      },
    },
    "Share",
  );
}
