// The live channel: one WebSocket to /v1/interface/ws per tab, authenticated with the
// subprotocols ["bearer", <token>] (a browser cannot set headers on a WebSocket), shared by every
// view. Subscriptions survive reconnects: each (re)connect subscribes every topic again, and each
// handler gets the new "subscribed" frame (its snapshot) to catch up on what it missed.
// Presence ("here" on presence:character:<id>) is said again on every (re)connect and every
// HEARTBEAT_MS (the server drops a member it has not heard from for a minute), "gone" on leaving.

const PING_MS = 25_000;
const MAX_BACKOFF_MS = 15_000;
const HEARTBEAT_MS = 20_000;

export class Live {
  constructor(getToken, refresh, onState) {
    this.getToken = getToken;
    this.refresh = refresh;
    this.onState = onState;
    this.handlers = new Map(); // topic -> Set of handlers(frame)
    this.present = new Set();  // presence topics this tab is "here" on
    this.ws = null;
    this.nextId = 1;
    this.backoff = 500;
    this.retry = null;
    this.ping = null;
    this.beat = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    if (!this.ws) this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.ping);
    clearInterval(this.beat);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, "logged out");
    }
    this.state("closed");
  }

  state(name) {
    if (this.onState) this.onState(name);
  }

  // handler(frame) for every frame of `topic` (subscribed, event, error) and "lagged"; returns the
  // function that ends this subscription.
  subscribe(topic, handler) {
    let set = this.handlers.get(topic);
    if (!set) {
      set = new Set();
      this.handlers.set(topic, set);
      this.send({ op: "subscribe", topic, id: this.nextId++ });
    }
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.handlers.get(topic) === set) {
        this.handlers.delete(topic);
        this.send({ op: "unsubscribe", topic, id: this.nextId++ });
      }
    };
  }

  // Be present on `topic` (presence:character:<id>): handler(frame) gets its presence frames (who is
  // here, with "you" naming this tab) and errors; returns the function that leaves.
  presence(topic, handler) {
    const set = this.handlers.get(topic) || new Set();
    this.handlers.set(topic, set);
    set.add(handler);
    this.present.add(topic);
    this.send({ op: "here", topic, id: this.nextId++ });
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.handlers.get(topic) === set) {
        this.handlers.delete(topic);
        this.present.delete(topic);
        this.send({ op: "gone", topic, id: this.nextId++ });
      }
    };
  }

  heartbeat() {
    for (const topic of this.present) this.send({ op: "here", topic });
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  connect() {
    const token = this.getToken();
    if (this.stopped || !token) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}/v1/interface/ws`, ["bearer", token]);
    } catch {
      this.later();
      return;
    }
    this.ws = ws;
    this.state("connecting");
    ws.addEventListener("open", () => {
      this.backoff = 500;
      this.state("open");
      for (const topic of this.handlers.keys()) {
        this.send({ op: this.present.has(topic) ? "here" : "subscribe", topic, id: this.nextId++ });
      }
      clearInterval(this.ping);
      clearInterval(this.beat);
      this.ping = setInterval(() => this.send({ op: "ping" }), PING_MS);
      this.beat = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    });
    ws.addEventListener("message", (msg) => this.dispatch(msg.data));
    ws.addEventListener("close", (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.ping);
      clearInterval(this.beat);
      this.state("closed");
      if (this.stopped) return;
      // 1008: the token expired or was refused; refresh it first unless it was refreshed meanwhile
      if (ev.code === 1008 && this.getToken() === token) this.refresh().then(() => this.later(), () => this.later());
      else this.later();
    });
  }

  later() {
    clearTimeout(this.retry);
    if (this.stopped) return;
    this.retry = setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  dispatch(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type === "lagged") {
      // messages were dropped: every topic that lost some re-reads its state
      for (const topic of Object.keys(frame.topics || {})) this.deliver(topic, frame);
      return;
    }
    if (frame.topic) this.deliver(frame.topic, frame);
  }

  deliver(topic, frame) {
    for (const fn of this.handlers.get(topic) || []) {
      try {
        fn(frame);
      } catch (err) {
        console.error("live handler of", topic, err);
      }
    }
  }
}
