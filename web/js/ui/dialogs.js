// The dialogs: log in / sign up, and start or schedule a space.

import { describeError } from "../errors.js";
import { toast } from "./toasts.js";

let mode = "login";

function setMode(next) {
  mode = next;
  const signup = mode === "signup";
  document.getElementById("auth-title").textContent = signup ? "Create your account" : "Log in";
  document.getElementById("auth-submit").textContent = signup ? "Sign up" : "Log in";
  document.getElementById("signup-only").hidden = !signup;
  document.getElementById("auth-display").required = signup;
  document.getElementById("auth-password").autocomplete = signup ? "new-password" : "current-password";
  document.getElementById("tab-login").setAttribute("aria-selected", String(!signup));
  document.getElementById("tab-signup").setAttribute("aria-selected", String(signup));
  document.getElementById("auth-error").textContent = "";
}

export function openAuth(app, which) {
  setMode(which);
  const dialog = document.getElementById("auth-dialog");
  dialog.showModal();
  document.getElementById("auth-handle").focus();
}

export function openCreate(app) {
  const dialog = document.getElementById("create-dialog");
  document.getElementById("create-error").textContent = "";
  dialog.showModal();
  document.getElementById("create-name").focus();
}

function busy(button, on) {
  button.disabled = on;
  button.setAttribute("aria-busy", String(on));
}

export function setUpDialogs(app) {
  for (const dialog of document.querySelectorAll("dialog")) {
    for (const b of dialog.querySelectorAll("[data-close]")) b.addEventListener("click", () => dialog.close());
  }
  document.getElementById("tab-login").addEventListener("click", () => setMode("login"));
  document.getElementById("tab-signup").addEventListener("click", () => setMode("signup"));

  document.getElementById("auth-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const handle = document.getElementById("auth-handle").value.trim();
    const password = document.getElementById("auth-password").value;
    const error = document.getElementById("auth-error");
    const submit = document.getElementById("auth-submit");
    error.textContent = "";
    busy(submit, true);
    try {
      if (mode === "signup") {
        const display = document.getElementById("auth-display").value.trim() || handle;
        await app.conn.request({ type: "register", handle, password, display_name: display });
      }
      const reply = await app.logIn(handle, password);
      document.getElementById("auth-dialog").close();
      document.getElementById("auth-password").value = "";
      toast(mode === "signup" ? `Welcome to Stoa, @${reply.handle}!` : `Welcome back, @${reply.handle}.`);
    } catch (err) {
      error.textContent = describeError(err);
    } finally {
      busy(submit, false);
    }
  });

  const later = () => document.querySelector('#create-form input[name="when"][value="later"]').checked;
  for (const radio of document.querySelectorAll('#create-form input[name="when"]')) {
    radio.addEventListener("change", () => {
      const at = document.getElementById("create-at");
      at.disabled = !later();
      at.required = later();
      document.getElementById("create-submit").textContent = later() ? "Schedule" : "Go live";
      if (later() && !at.value) {
        const soon = new Date(Date.now() + 3600_000 - new Date().getTimezoneOffset() * 60_000);
        at.value = soon.toISOString().slice(0, 16);
      }
    });
  }

  document.getElementById("create-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = document.getElementById("create-error");
    const submit = document.getElementById("create-submit");
    const title = document.getElementById("create-name").value.trim();
    const description = document.getElementById("create-description").value.trim();
    const topics = document
      .getElementById("create-topics")
      .value.split(",")
      .map((t) => t.trim().replace(/^#/, ""))
      .filter(Boolean);
    if (topics.length > 3) {
      error.textContent = "At most 3 topics.";
      return;
    }
    const speakers = document.getElementById("create-policy").value;
    const record = document.getElementById("create-record").checked;
    error.textContent = "";
    busy(submit, true);
    try {
      if (later()) {
        const startsAt = new Date(document.getElementById("create-at").value).getTime();
        const reply = await app.conn.request({ type: "schedule_space", title, description, topics, starts_at: startsAt, record });
        toast(`“${reply.space.title}” is scheduled. Share it so people can set a reminder.`);
        document.getElementById("create-dialog").close();
        app.navigate("/");
        app.home.refresh();
      } else {
        if (app.spaceId) await app.leave({ navigate: false });
        await app.startAudio();
        const joined = await app.conn.request({ type: "create_space", title, description, topics, speakers, record });
        document.getElementById("create-dialog").close();
        app.entered(joined);
      }
      document.getElementById("create-form").reset();
    } catch (err) {
      error.textContent = describeError(err);
    } finally {
      busy(submit, false);
    }
  });
}
