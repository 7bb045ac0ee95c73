// app.js: the page's entry point. Asks for a nick, connects to this server's /ws (IRC over
// WebSocket), and hands over to the chat once the server welcomes us.

import { IrcClient } from "./client.js";
import { ChatState } from "./state.js";
import { Ui } from "./ui.js";
import { isValidNick } from "./irc.js";

const NICK_KEY = "uvchat.nick";

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch (e) {
    return null; // storage blocked: nothing remembered
  }
}

function store(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch (e) {
    // storage blocked
  }
}

function start() {
  const form = document.getElementById("nick-form");
  const input = document.getElementById("nick");
  const error = document.getElementById("login-error");
  const button = form.querySelector("button[type=submit]");
  let client = null, state = null, ui = null;

  const saved = stored(NICK_KEY);
  if (saved && isValidNick(saved)) input.value = saved;

  const failLogin = (text) => {
    error.textContent = text;
    button.disabled = false;
    input.setAttribute("aria-invalid", "true");
    input.focus();
    input.select();
  };

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const nick = input.value.trim();
    if (!isValidNick(nick)) {
      failLogin("That name is not allowed: 1 to 32 letters, digits or - _ [ ] \\ ` ^ { } |, not starting with a digit or -.");
      return;
    }
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    button.disabled = true;
    store(NICK_KEY, nick);
    if (!client) {
      client = new IrcClient({ url: wsUrl(), nick });
      state = new ChatState(client);
      ui = new Ui(state, client);
      client.on("registered", () => {
        ui.showChat();
        state.list();
      });
      // The room list changes when we come or go.
      let relist = null;
      client.on("message", (m) => {
        if ((m.command === "JOIN" || m.command === "PART") && m.source && client.isMe(m.source.nick)) {
          clearTimeout(relist);
          relist = setTimeout(() => state.list(), 300);
        }
      });
      client.on("nickRejected", (r) => {
        const why = r.code === "433" ? `The name ${r.nick} is taken` : `The name ${r.nick} is not allowed`;
        if (!client.everRegistered) failLogin(`${why}: ${r.text}. Pick another.`);
      });
      client.on("status", (s) => {
        if (client.everRegistered) return;
        if (s.state === "waiting") {
          error.textContent = `Cannot reach the chat server; trying again in ${Math.ceil(s.delay / 1000)} s.`;
          button.disabled = false;
        }
      });
      // The room list stays fresh while connected (it is small: one line per room).
      setInterval(() => {
        if (client.registered) state.list();
      }, 30000);
      window.uvchat = { client, state }; // for the console (and the browser test)
    } else {
      client.setNick(nick);
    }
    client.connect();
  });
}

start();
