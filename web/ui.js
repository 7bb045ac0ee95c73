// ui.js: the page, drawn from a ChatState. Every piece of text anyone sent goes on screen
// through text nodes (textContent, append(string)), never as HTML; nicks, room names and
// messages are bidi-isolated (<bdi>, dir="auto"), so that neither markup nor bidi controls
// in them can change the page around them.

import { parseFormatting, findLinks, plain } from "./format.js";
import { SERVER_KEY } from "./state.js";
import { parsePrefix } from "./irc.js";

const MAX_DOM_LINES = 1000;
const NEAR_TOP_PX = 80; // scrolled this close to the top: older messages are asked for

const OLDER_TEXT = {
  loading: "Loading older messages…",
  done: "Start of history",
  none: "No earlier messages are kept here",
  full: "Older messages are not shown here (1000 lines at most)",
};

// An element with properties and children (strings become text nodes).
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

// Formatted text (bold, italic... and links) as nodes in a <span dir="auto">.
export function richText(text, cls = "text") {
  const span = el("span", { class: cls, dir: "auto" });
  for (const run of parseFormatting(text)) {
    const classes = [run.bold && "f-b", run.italic && "f-i", run.underline && "f-u", run.strike && "f-s", run.mono && "f-m"]
      .filter(Boolean)
      .join(" ");
    const parent = classes ? span.appendChild(el("span", { class: classes })) : span;
    for (const part of findLinks(run.text)) {
      if (part.href) {
        parent.append(el("a", { href: part.href, rel: "noopener noreferrer nofollow", target: "_blank" }, part.text));
      } else {
        parent.append(part.text);
      }
    }
  }
  return span;
}

// One of eight colours for a nick, the same everywhere.
function nickClass(nick) {
  let h = 0;
  for (const ch of nick.toLowerCase()) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return "nick c" + (h % 8);
}

function nickEl(nick) {
  return el("bdi", { class: nickClass(nick) }, plain(nick));
}

function hhmm(d) {
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

export class Ui {
  constructor(state, client, doc = document) {
    this.state = state;
    this.client = client;
    this.doc = doc;
    const $ = (id) => doc.getElementById(id);
    this.e = {
      status: $("status"),
      login: $("login"),
      chat: $("chat"),
      buffers: $("buffers"),
      roomList: $("room-list"),
      title: $("buffer-title"),
      topic: $("topic"),
      log: $("log"),
      input: $("input"),
      compose: $("compose"),
      leave: $("leave"),
      members: $("members"),
      memberList: $("member-list"),
      membersTitle: $("members-title"),
      membersToggle: $("members-toggle"),
      sidebar: $("sidebar"),
      menuToggle: $("menu-toggle"),
      joinForm: $("join-form"),
      joinRoom: $("join-room"),
      listRefresh: $("list-refresh"),
    };
    this.history = [];
    this.historyPos = 0;
    this.wire();
    state.on((what, b, extra) => this.changed(what, b, extra));
    this.renderAll();
  }

  wire() {
    const { e, state } = this;
    e.compose.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const text = e.input.value;
      if (text.trim() === "") return;
      this.history.push(text);
      if (this.history.length > 100) this.history.shift();
      this.historyPos = this.history.length;
      e.input.value = "";
      state.input(text);
    });
    e.input.addEventListener("keydown", (ev) => {
      if (ev.key === "ArrowUp" && this.historyPos > 0 && (e.input.value === "" || this.browsing)) {
        this.historyPos--;
        e.input.value = this.history[this.historyPos];
        this.browsing = true;
        ev.preventDefault();
      } else if (ev.key === "ArrowDown" && this.browsing) {
        this.historyPos++;
        e.input.value = this.historyPos < this.history.length ? this.history[this.historyPos] : "";
        if (this.historyPos >= this.history.length) this.browsing = false;
        ev.preventDefault();
      } else if (ev.key !== "ArrowUp" && ev.key !== "ArrowDown") {
        this.browsing = false;
      }
    });
    e.joinForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const name = e.joinRoom.value.trim();
      if (!name) return;
      e.joinRoom.value = "";
      state.join(name);
      this.closePanels();
    });
    e.listRefresh.addEventListener("click", () => state.list());
    e.leave.addEventListener("click", () => {
      const b = state.active;
      if (b.kind === "room" && !b.joined) state.join(b.name);
      else state.close(b.key);
    });
    e.log.addEventListener("scroll", () => {
      if (e.log.scrollTop < NEAR_TOP_PX) state.loadOlder(state.activeKey);
    }, { passive: true });
    e.menuToggle.addEventListener("click", () => this.toggle(e.sidebar, e.menuToggle));
    e.membersToggle.addEventListener("click", () => this.toggle(e.members, e.membersToggle));
    this.doc.addEventListener("visibilitychange", () => {
      state.setVisible(this.doc.visibilityState === "visible");
    });
    this.doc.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") this.closePanels();
    });
  }

  toggle(panel, button) {
    const open = !panel.classList.contains("open");
    panel.classList.toggle("open", open);
    button.setAttribute("aria-expanded", String(open));
  }

  closePanels() {
    for (const [p, b] of [[this.e.sidebar, this.e.menuToggle], [this.e.members, this.e.membersToggle]]) {
      p.classList.remove("open");
      b.setAttribute("aria-expanded", "false");
    }
  }

  showChat() {
    this.e.login.hidden = true;
    this.e.chat.hidden = false;
    this.doc.body.classList.add("in-chat");
    this.e.input.focus();
  }

  changed(what, b, extra) {
    switch (what) {
      case "buffers":
        this.renderBuffers();
        this.renderHead();
        break;
      case "active":
        this.renderBuffers();
        this.renderHead();
        this.renderLog();
        this.renderMembers();
        break;
      case "line":
        if (b.key === this.state.activeKey) this.appendLine(b.lines, extra);
        break;
      case "older":
        if (b.key === this.state.activeKey) this.insertOlder(extra.lines, extra.before);
        break;
      case "older-state":
        if (b.key === this.state.activeKey) {
          this.renderOlderMarker();
          this.fillUp();
        }
        break;
      case "members":
        if (b.key === this.state.activeKey) this.renderMembers();
        this.renderHead();
        break;
      case "topic":
        if (b.key === this.state.activeKey) this.renderHead();
        break;
      case "roomlist":
        this.renderRoomList();
        break;
      case "status":
        this.renderStatus(extra);
        break;
    }
  }

  renderAll() {
    this.renderBuffers();
    this.renderHead();
    this.renderLog();
    this.renderMembers();
    this.renderRoomList();
  }

  renderStatus(s) {
    let text;
    switch (s.state) {
      case "connecting": text = s.attempt ? "Reconnecting…" : "Connecting…"; break;
      case "registering": text = "Signing in…"; break;
      case "registered": text = `Connected as ${s.nick}`; break;
      case "waiting": text = `Disconnected: trying again in ${Math.ceil(s.delay / 1000)} s`; break;
      case "stopped": text = "Not connected"; break;
      case "error": text = s.text; break;
      default: text = s.state;
    }
    this.e.status.textContent = plain(text);
    this.e.status.dataset.state = s.state;
    if (s.state === "waiting" || s.state === "error") this.doc.body.classList.add("offline");
    if (s.state === "registered") this.doc.body.classList.remove("offline");
  }

  renderBuffers() {
    const { state } = this;
    const items = [];
    const order = { server: 0, room: 1, query: 2 };
    const list = Array.from(state.buffers.values()).sort(
      (a, b) => order[a.kind] - order[b.kind] || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    );
    let total = 0;
    for (const b of list) {
      total += b.unread;
      const active = b.key === state.activeKey;
      const label = b.kind === "server" ? "Server messages" : b.kind === "query" ? `Conversation with ${b.name}` : b.name;
      const badge = b.unread > 0 ? el("span", { class: "badge" + (b.highlight ? " hl" : ""), "aria-hidden": "true" }, b.unread > 99 ? "99+" : String(b.unread)) : null;
      const name = b.kind === "server" ? el("span", { class: "name" }, "Server") : el("bdi", { class: "name" }, plain(b.name));
      const button = el(
        "button",
        {
          type: "button",
          class: "buffer k-" + b.kind + (active ? " active" : "") + (b.kind === "room" && !b.joined ? " parted" : ""),
          "aria-current": active ? "true" : null,
          "aria-label": label + (b.unread ? `, ${b.unread} unread` + (b.highlight ? ", mentions you" : "") : ""),
          onclick: () => {
            state.setActive(b.key);
            this.closePanels();
            this.e.input.focus();
          },
        },
        b.kind === "query" ? el("span", { class: "sigil", "aria-hidden": "true" }, "@") : null,
        name,
        badge,
      );
      items.push(el("li", {}, button));
    }
    this.e.buffers.replaceChildren(...items);
    this.doc.title = (total > 0 ? `(${total}) ` : "") + "uvchat";
  }

  renderHead() {
    const b = this.state.active;
    const { e } = this;
    e.title.replaceChildren(b.kind === "server" ? "Server messages" : el("bdi", {}, plain(b.name)));
    if (b.kind === "room" && b.topic) e.topic.replaceChildren(richText(b.topic, "topic-text"));
    else if (b.kind === "room") e.topic.replaceChildren(el("span", { class: "muted" }, b.joined ? "No topic" : "You are not in this room"));
    else if (b.kind === "query") e.topic.replaceChildren(el("span", { class: "muted" }, "Private conversation"));
    else e.topic.replaceChildren(el("span", { class: "muted" }, "Notices and answers from the server"));
    e.leave.hidden = b.kind === "server";
    e.leave.textContent = b.kind === "room" ? (b.joined ? "Leave" : "Join again") : "Close";
    e.membersToggle.hidden = b.kind !== "room";
    e.members.hidden = b.kind !== "room";
    e.chat.classList.toggle("no-members", b.kind !== "room");
    e.input.placeholder = b.kind === "server" ? "Commands: /join #room, /msg nick, /list, /help" : `Message ${b.name} (/me, /msg, /join, /topic, /help)`;
  }

  renderLog() {
    const b = this.state.active;
    const frag = this.doc.createDocumentFragment();
    this.e.older = el("li", { class: "older-marker", hidden: true });
    frag.append(this.e.older);
    for (const line of b.lines.slice(-MAX_DOM_LINES)) frag.append(this.lineEl(line));
    this.e.log.replaceChildren(frag);
    this.e.log.scrollTop = this.e.log.scrollHeight;
    this.renderOlderMarker();
    this.fillUp();
  }

  // Above the lines: whether older ones are coming, or there are none (for a server that
  // keeps history).
  renderOlderMarker() {
    const b = this.state.active;
    // Its room is kept while more may come, so that "Loading…" moves no line.
    this.e.older.textContent = OLDER_TEXT[b.older] || "";
    this.e.older.hidden = b.kind === "server" || !this.client.hasHistory;
  }

  // Lines that do not fill the log leave nothing to scroll: ask for older ones at once.
  fillUp() {
    const log = this.e.log;
    if (log.scrollHeight - log.clientHeight < NEAR_TOP_PX || log.scrollTop < NEAR_TOP_PX)
      this.state.loadOlder(this.state.activeKey);
  }

  // Older lines above the line `before` (null: above all), the view kept where it was: the
  // first line in view stays at the same height on screen.
  insertOlder(lines, before) {
    const log = this.e.log;
    const top = log.getBoundingClientRect().top;
    const items = Array.from(log.children).filter((x) => x.classList.contains("line"));
    const anchor = items.find((x) => x.getBoundingClientRect().bottom > top) || null;
    const was = anchor ? anchor.getBoundingClientRect().top : 0;
    const frag = this.doc.createDocumentFragment();
    for (const line of lines) frag.append(this.lineEl(line));
    const next = (before && log.querySelector(`li[data-id="${before.id}"]`)) || this.e.older.nextSibling;
    log.insertBefore(frag, next);
    while (log.childElementCount > MAX_DOM_LINES + 1) log.lastElementChild.remove();
    if (anchor && anchor.isConnected) log.scrollTop += anchor.getBoundingClientRect().top - was;
  }

  appendLine(lines, line) {
    const log = this.e.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.append(this.lineEl(line));
    while (log.childElementCount > MAX_DOM_LINES + 1) this.e.older.nextElementSibling.remove();
    if (atBottom || line.self) log.scrollTop = log.scrollHeight;
  }

  lineEl(line) {
    const cls = ["line", "t-" + line.type];
    if (line.self) cls.push("self");
    if (line.mention) cls.push("mention");
    const parts = [el("time", { datetime: line.time.toISOString() }, hhmm(line.time))];
    switch (line.type) {
      case "privmsg":
        parts.push(el("span", { class: "who" }, nickEl(line.nick)), " ", richText(line.text));
        break;
      case "notice":
        parts.push(el("span", { class: "who" }, "-", nickEl(line.nick), "-"), " ", richText(line.text));
        break;
      case "action":
        parts.push(el("span", { class: "who" }, "* ", nickEl(line.nick)), " ", richText(line.text));
        break;
      default:
        parts.push(el("bdi", { class: "text", dir: "auto" }, plain(line.text)));
    }
    return el("li", { class: cls.join(" "), "data-id": line.id }, ...parts);
  }

  renderMembers() {
    const b = this.state.active;
    if (b.kind !== "room") {
      this.e.memberList.replaceChildren();
      return;
    }
    const symbols = parsePrefix(this.client.isupport.PREFIX).map(([, s]) => s);
    const rank = (m) => {
      const i = symbols.indexOf(m.prefix[0]);
      return i < 0 ? symbols.length : i;
    };
    const members = Array.from(b.members.values()).sort(
      (x, y) => rank(x) - rank(y) || (x.nick.toLowerCase() < y.nick.toLowerCase() ? -1 : 1),
    );
    this.e.membersTitle.textContent = `${members.length} ${members.length === 1 ? "person" : "people"} here`;
    this.e.membersToggle.textContent = `People (${members.length})`;
    const me = (m) => this.client.isMe(m.nick);
    this.e.memberList.replaceChildren(
      ...members.map((m) =>
        el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              class: "member" + (me(m) ? " me" : ""),
              "aria-label": (m.prefix.includes("@") ? "operator " : "") + m.nick + (me(m) ? " (you)" : ": send a private message"),
              onclick: () => {
                if (me(m)) return;
                this.state.setActive(this.state.query(m.nick).key);
                this.closePanels();
                this.e.input.focus();
              },
            },
            el("span", { class: "prefix", "aria-hidden": "true" }, m.prefix.slice(0, 1)),
            nickEl(m.nick),
          ),
        ),
      ),
    );
  }

  renderRoomList() {
    const list = this.state.roomList;
    if (!list) {
      this.e.roomList.replaceChildren(el("li", { class: "muted" }, "Loading…"));
      return;
    }
    if (list.length === 0) {
      this.e.roomList.replaceChildren(el("li", { class: "muted" }, "No rooms yet"));
      return;
    }
    this.e.roomList.replaceChildren(
      ...list.map((r) =>
        el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              class: "room",
              "aria-label": `${r.name}, ${r.users} ${r.users === 1 ? "person" : "people"}` + (r.topic ? `: ${plain(r.topic)}` : "") + ". Join",
              onclick: () => {
                this.state.join(r.name);
                this.closePanels();
              },
            },
            el("bdi", { class: "name" }, plain(r.name)),
            el("span", { class: "count", "aria-hidden": "true" }, String(r.users)),
            r.topic ? el("bdi", { class: "topic-text", dir: "auto", "aria-hidden": "true" }, plain(r.topic)) : null,
          ),
        ),
      ),
    );
  }
}

export { SERVER_KEY };
