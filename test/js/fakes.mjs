// fakes.mjs: a WebSocket and a clock the web client's tests control.

// Timers that run only when the test moves the clock.
export class FakeClock {
  constructor() {
    this.now = 0;
    this.timers = new Map();
    this.next = 1;
    this.setTimeout = (fn, ms) => {
      const id = this.next++;
      this.timers.set(id, { at: this.now + ms, fn });
      return id;
    };
    this.clearTimeout = (id) => this.timers.delete(id);
  }

  // The delay of the one pending timer that fires first (null when none).
  soonest() {
    let best = null;
    for (const t of this.timers.values()) if (best === null || t.at < best) best = t.at;
    return best === null ? null : best - this.now;
  }

  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      let id = null, t = null;
      for (const [k, v] of this.timers) if (v.at <= end && (t === null || v.at < t.at)) [id, t] = [k, v];
      if (t === null) break;
      this.timers.delete(id);
      this.now = t.at;
      t.fn();
    }
    this.now = end;
  }
}

// Every socket the client makes, in order; each records what the client sent.
export function fakeSocketClass() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols;
      this.readyState = 0;
      this.sent = [];
      this.closedByClient = null;
      sockets.push(this);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error("send on a socket that is not open");
      this.sent.push(data);
    }
    close(code) {
      this.closedByClient = code;
      this.readyState = 3;
    }
    // What the server side does:
    open() {
      this.readyState = 1;
      this.onopen && this.onopen({});
    }
    recv(...lines) {
      for (const l of lines) this.onmessage && this.onmessage({ data: l });
    }
    drop(code = 1006, reason = "") {
      this.readyState = 3;
      this.onclose && this.onclose({ code, reason });
    }
    take() {
      const s = this.sent;
      this.sent = [];
      return s;
    }
  }
  return { FakeWebSocket, sockets };
}
