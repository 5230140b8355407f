var AnyCable = (() => {
  var __defProp = Object.defineProperty;
  var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
  var __getOwnPropNames = Object.getOwnPropertyNames;
  var __hasOwnProp = Object.prototype.hasOwnProperty;
  var __defNormalProp = (obj, key, value) => key in obj ? __defProp(obj, key, { enumerable: true, configurable: true, writable: true, value }) : obj[key] = value;
  var __export = (target, all) => {
    for (var name in all)
      __defProp(target, name, { get: all[name], enumerable: true });
  };
  var __copyProps = (to, from, except, desc) => {
    if (from && typeof from === "object" || typeof from === "function") {
      for (let key of __getOwnPropNames(from))
        if (!__hasOwnProp.call(to, key) && key !== except)
          __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
    }
    return to;
  };
  var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);
  var __publicField = (obj, key, value) => __defNormalProp(obj, typeof key !== "symbol" ? key + "" : key, value);

  // src/anycable-web.js
  var anycable_web_exports = {};
  __export(anycable_web_exports, {
    Channel: () => Channel,
    createCable: () => createCable2,
    createConsumer: () => createConsumer2,
    fetchTokenFromHTML: () => fetchTokenFromHTML
  });

  // node_modules/nanoevents/index.js
  var createNanoEvents = () => ({
    emit(event, ...args) {
      for (let callbacks = this.events[event] || [], i = 0, length = callbacks.length; i < length; i++) {
        callbacks[i](...args);
      }
    },
    events: {},
    on(event, cb) {
      var _a;
      ;
      ((_a = this.events)[event] || (_a[event] = [])).push(cb);
      return () => {
        this.events[event] = this.events[event]?.filter((i) => cb !== i);
      };
    }
  });

  // node_modules/@anycable/core/protocol/index.js
  var ReasonError = class extends Error {
    constructor(msg, reason) {
      if (msg instanceof Error) {
        super(msg.message);
        this.cause = msg;
      } else {
        super(msg);
      }
      this.reason = reason;
      this.name = "ReasonError";
    }
  };
  var SubscriptionRejectedError = class extends ReasonError {
    constructor(reason) {
      super("Rejected", reason);
      this.name = "SubscriptionRejectedError";
    }
  };
  var SubscriptionTimeoutError = class extends ReasonError {
    constructor(msg) {
      super(msg || "Timed out to receive subscription ack");
      this.name = "SubscriptionTimeoutError";
    }
  };
  var DisconnectedError = class extends ReasonError {
    constructor(error, reason) {
      if (reason) {
        super(error, reason);
      } else {
        super("Disconnected", error);
      }
      this.name = "DisconnectedError";
    }
  };
  var StaleConnectionError = class extends DisconnectedError {
    constructor(msg) {
      super(msg, "stale_connection");
      this.name = "StaleConnectionError";
    }
  };

  // node_modules/@anycable/core/stringify-params/index.js
  function stringifyParams(params) {
    if (!params) return "";
    let parts = Object.keys(params).sort().filter((k) => params[k] !== void 0).map((k) => {
      let v = JSON.stringify(params[k]);
      return `${JSON.stringify(k)}:${v}`;
    });
    return `{${parts.join(",")}}`;
  }

  // node_modules/@anycable/core/channel/presence.js
  var Presence = class {
    constructor(channel) {
      this.channel = channel;
      this.listeners = [];
    }
    watch() {
      this.listeners.push(
        this.channel.on("presence", (msg) => {
          if (msg.type === "info") {
            if (!this._state) {
              this._state = this.stateFromInfo(msg);
            }
            return;
          }
          if (!this._state) return;
          if (msg.type === "join") {
            this._state[msg.id] = msg.info;
          } else if (msg.type === "leave") {
            delete this._state[msg.id];
          }
        })
      );
    }
    // Reset the state to make sure the fresh one is
    // requested the next time info() is called
    reset() {
      delete this._state;
    }
    dispose() {
      delete this._info;
      delete this._state;
      this.listeners.forEach((listener) => listener());
      this.listeners.length = 0;
    }
    async join(id, info) {
      if (this._info) return void 0;
      this._info = { id: String(id), info };
      return this.channel.perform("$presence:join", this._info);
    }
    async leave() {
      if (!this._info) return void 0;
      let res = await this.channel.perform("$presence:leave");
      delete this._info;
      return res;
    }
    async info() {
      if (this._state) return this._state;
      if (!this._promise) {
        this._promise = this._sync();
      }
      await this._promise;
      return this._state;
    }
    async _sync() {
      this.watch();
      try {
        let presence = await this.channel.perform("$presence:info", {});
        this._state = this.stateFromInfo(presence);
        return this._state;
      } finally {
        delete this._promise;
      }
    }
    stateFromInfo(presence) {
      if (!presence.records) return {};
      return presence.records.reduce((acc, { id, info }) => {
        acc[id] = info;
        return acc;
      }, {});
    }
  };

  // node_modules/@anycable/core/channel/index.js
  var STATE = /* @__PURE__ */ Symbol("state");
  var Channel = class {
    // Unique channel identifier
    // static identifier = ''
    constructor(params = {}) {
      this.emitter = createNanoEvents();
      this.params = Object.freeze(params);
      this.presence = new Presence(this);
      this.initialConnect = true;
      this[STATE] = "idle";
    }
    get identifier() {
      if (this._identifier) return this._identifier;
      this._identifier = stringifyParams({
        channel: this.channelId,
        ...this.params
      });
      return this._identifier;
    }
    get channelId() {
      return this.constructor.identifier;
    }
    get state() {
      return this[STATE];
    }
    attached(receiver) {
      if (this.receiver) {
        if (this.receiver !== receiver) {
          throw Error("Already connected to a different receiver");
        }
        return false;
      }
      this.receiver = receiver;
      return true;
    }
    connecting() {
      this[STATE] = "connecting";
    }
    connected() {
      if (this.state === "connected") return;
      if (this.state === "closed") return;
      this[STATE] = "connected";
      let restored = false;
      if (this.initialConnect) {
        this.initialConnect = false;
        this.emit("connect", { reconnect: false, restored });
      } else {
        this.emit("connect", { reconnect: true, restored });
      }
    }
    restored() {
      if (this.state === "connected") throw Error("Already connected");
      this[STATE] = "connected";
      let restored = true;
      let reconnect = true;
      this.initialConnect = false;
      this.emit("connect", { reconnect, restored });
    }
    disconnected(err) {
      if (this.state === "disconnected" || this.state === "closed") return;
      this[STATE] = "disconnected";
      this.presence.reset();
      this.emit("disconnect", err);
    }
    closed(err) {
      if (this.state === "closed") return;
      this[STATE] = "closed";
      delete this.receiver;
      this.initialConnect = true;
      this.presence.dispose();
      this.emit("close", err);
    }
    disconnect() {
      if (this.state === "idle" || this.state === "closed") {
        return;
      }
      this.receiver.unsubscribe(this);
    }
    async perform(action, payload) {
      if (this.state === "idle" || this.state === "closed") {
        throw Error("Channel is not subscribed");
      }
      return this.receiver.perform(this.identifier, action, payload);
    }
    async send(payload) {
      return this.perform(void 0, payload);
    }
    async whisper(payload) {
      try {
        await this.perform("$whisper", payload);
      } catch (e) {
        let logger = this.receiver ? this.receiver.logger : null;
        if (logger) {
          logger.warn("whisper failed: ", e);
        }
      }
    }
    receive(msg, meta) {
      this.emit("message", msg, meta);
    }
    on(event, callback) {
      return this.emitter.on(event, callback);
    }
    once(event, callback) {
      let unbind = this.emitter.on(event, (...args) => {
        unbind();
        callback(...args);
      });
      return unbind;
    }
    emit(event, ...args) {
      return this.emitter.emit(event, ...args);
    }
    ensureSubscribed() {
      if (this.state === "connected") return Promise.resolve();
      if (this.state === "closed") {
        return Promise.reject(Error("Channel is unsubscribed"));
      }
      return this.pendingSubscribe();
    }
    // This promise resolves when subscription is confirmed
    // and rejects when rejected or closed.
    // It ignores disconnect events.
    pendingSubscribe() {
      if (this._pendingSubscribe) return this._pendingSubscribe;
      this._pendingSubscribe = new Promise((resolve, reject) => {
        let unbind = [() => delete this._pendingSubscribe];
        unbind.push(
          this.on("connect", () => {
            unbind.forEach((clbk) => clbk());
            resolve();
          })
        );
        unbind.push(
          this.on("close", (err) => {
            unbind.forEach((clbk) => clbk());
            reject(
              err || new ReasonError(
                "Channel was disconnected before subscribing",
                "canceled"
              )
            );
          })
        );
      });
      return this._pendingSubscribe;
    }
  };

  // node_modules/@anycable/core/hub/index.js
  var Subscription = class {
    constructor(id) {
      this.id = id;
      this.intent = "unsubscribed";
      this.state = "idle";
      this.channels = [];
      this.disposed = false;
      this._pendings = [];
    }
    add(channel) {
      if (this.channels.includes(channel)) return;
      this.channels.push(channel);
    }
    remove(channel) {
      let ind = this.channels.indexOf(channel);
      if (ind > -1) this.channels.splice(ind, 1);
    }
    notify(state, ...args) {
      this.state = state === "restored" ? "connected" : state;
      if (args.length === 1) {
        this.channels.forEach((channel) => channel[state](args[0]));
      } else {
        this.channels.forEach((channel) => channel[state]());
      }
    }
    pending(intent) {
      this._checkIntent(intent);
      let nextPending = this._pendings[0];
      if (!nextPending || nextPending.intent !== intent) return Promise.resolve();
      return nextPending.promise;
    }
    ensureResubscribed() {
      if (this.disposed) return;
      this.intent = void 0;
      this.ensureSubscribed();
    }
    ensureSubscribed() {
      if (this.intent === "subscribed") return;
      if (this.disposed) throw Error("Subscription is disposed");
      this.intent = "subscribed";
      let merged = this._mergeWithPending("unsubscribed");
      if (merged) return;
      this.subscriber(this);
    }
    maybeUnsubscribe() {
      if (this.disposed) return;
      if (this.intent === "unsubscribed") return;
      if (this.channels.length > 0) return;
      this.intent = "unsubscribed";
      let merged = this._mergeWithPending("subscribed");
      if (merged) return;
      this.unsubscriber(this);
    }
    async acquire(intent) {
      this._checkIntent(intent);
      let resolver;
      let promise = new Promise((resolve) => {
        resolver = resolve;
      });
      let lock = {
        promise,
        intent,
        release: () => {
          this._pendings.splice(this._pendings.indexOf(lock), 1);
          resolver(lock);
        },
        canceled: false,
        acquired: false
      };
      let top = this._pendingTop;
      this._pendings.push(lock);
      if (top) {
        await top.promise;
      }
      if (this.gvl) {
        await this.gvl.acquire(lock, intent);
      }
      lock.acquired = true;
      return lock;
    }
    close(err) {
      this.disposed = true;
      this.intent = void 0;
      this.notify("closed", err);
    }
    _checkIntent(event) {
      if (event === "unsubscribed" || event === "subscribed") return;
      throw Error(`Unknown subscription intent: ${event}`);
    }
    get _pendingTop() {
      return this._pendings.length ? this._pendings[this._pendings.length - 1] : void 0;
    }
    _mergeWithPending(intent) {
      let top = this._pendingTop;
      if (!top) return false;
      if (top.acquired) return false;
      if (top.intent !== intent) return false;
      this._pendings.pop();
      top.canceled = true;
      return true;
    }
  };
  var GlobalLock = class {
    constructor() {
      this.queue = [];
    }
    async acquire(lock, intent) {
      if (intent !== "subscribed") return;
      this.queue.push(
        lock.promise.then(() => {
          this.queue.splice(this.queue.indexOf(lock), 1);
        })
      );
      if (this.queue.length > 1) {
        await this.queue[this.queue.length - 2];
      }
    }
  };
  var Subscriptions = class {
    constructor(opts) {
      if (opts.concurrentSubscribes === false) {
        this.glv = new GlobalLock();
      }
      this._subscriptions = {};
      this._localToRemote = {};
    }
    all() {
      return Object.values(this._subscriptions);
    }
    get(id) {
      return this._subscriptions[id];
    }
    create(id, { subscribe, unsubscribe }) {
      let sub = this._subscriptions[id] = new Subscription(id);
      sub.remoteId = this._localToRemote[id];
      sub.subscriber = subscribe;
      sub.unsubscriber = unsubscribe;
      sub.gvl = this.glv;
      return sub;
    }
    remove(id) {
      delete this._subscriptions[id];
      delete this._localToRemote[id];
    }
    storeRemoteId(localId, remoteId) {
      this._localToRemote[localId] = remoteId;
      let sub = this.get(localId);
      if (sub) sub.remoteId = remoteId;
    }
  };
  var Hub = class {
    constructor(opts = {}) {
      this.subscriptions = new Subscriptions(opts);
      this._pendingMessages = [];
      this._remoteToLocal = {};
    }
    subscribe(localId, remoteId) {
      this._remoteToLocal[remoteId] = localId;
      this.subscriptions.storeRemoteId(localId, remoteId);
      this.flush(remoteId);
    }
    unsubscribe(localId) {
      let sub = this.subscriptions.get(localId);
      if (!sub) return;
      let remoteId = sub.remoteId;
      if (remoteId) delete this._remoteToLocal[remoteId];
      this.subscriptions.remove(localId);
    }
    transmit(id, msg, meta) {
      let localId = this._remoteToLocal[id];
      if (!localId) {
        this._pendingMessages.push([id, msg, meta]);
        return;
      }
      let sub = this.subscriptions.get(localId);
      if (!sub) return;
      sub.channels.forEach((channel) => {
        channel.receive(msg, meta);
      });
    }
    notify(id, event, payload) {
      let localId = this._remoteToLocal[id];
      if (!localId) {
        return;
      }
      let sub = this.subscriptions.get(localId);
      if (!sub) return;
      sub.channels.forEach((channel) => channel.emit(event, payload));
    }
    close() {
      this._pendingMessages.length = 0;
    }
    get size() {
      return this.channels.length;
    }
    get channels() {
      return this.subscriptions.all().flatMap((sub) => sub.channels);
    }
    flush(id) {
      let left = [];
      for (let item of this._pendingMessages) {
        if (item[0] === id) this.transmit(item[0], item[1], item[2]);
        else left.push(item);
      }
      this._pendingMessages = left;
    }
  };

  // node_modules/@anycable/core/logger/index.js
  var LEVEL_TO_NAME = {
    debug: 0,
    info: 1,
    warn: 2,
    error: 3
  };
  var BaseLogger = class {
    constructor(level) {
      this.level = level || "warn";
    }
    log(level, msg, details) {
      if (LEVEL_TO_NAME[level] < LEVEL_TO_NAME[this.level]) return;
      this.writeLogEntry(level, msg, details);
    }
    writeLogEntry() {
      throw Error("Not implemented");
    }
    debug(msg, details) {
      this.log("debug", msg, details);
    }
    info(msg, details) {
      this.log("info", msg, details);
    }
    warn(msg, details) {
      this.log("warn", msg, details);
    }
    error(msg, details) {
      this.log("error", msg, details);
    }
  };
  var NoopLogger = class extends BaseLogger {
    writeLogEntry() {
    }
  };

  // node_modules/@anycable/core/encoder/index.js
  var JSONEncoder = class {
    encode(msg) {
      return JSON.stringify(msg);
    }
    decode(raw) {
      try {
        return JSON.parse(raw);
      } catch (_e) {
      }
    }
  };

  // node_modules/@anycable/core/action_cable/index.js
  var commandID = 0;
  var ActionCableProtocol = class {
    constructor(opts = {}) {
      let { logger } = opts;
      this.logger = logger || new NoopLogger();
      this.pendingSubscriptions = {};
      this.pendingUnsubscriptions = {};
      this.subscribeCooldownInterval = opts.subscribeCooldownInterval || 250;
      this.subscribeRetryInterval = opts.subscribeRetryInterval || 5e3;
    }
    attached(cable) {
      this.cable = cable;
    }
    subscribe(channel, params) {
      let subscriptionPayload = { channel };
      if (params) {
        Object.assign(subscriptionPayload, params);
      }
      let identifier = stringifyParams(subscriptionPayload);
      if (this.pendingUnsubscriptions[identifier]) {
        let cooldown = this.subscribeCooldownInterval * 1.5;
        this.logger.debug(
          `unsubscribed recently, cooldown for ${cooldown}`,
          identifier
        );
        return new Promise((resolve) => {
          setTimeout(() => {
            resolve(this.subscribe(channel, params));
          }, cooldown);
        });
      }
      if (this.pendingSubscriptions[identifier]) {
        this.logger.warn("subscription is already pending, skipping", identifier);
        return Promise.reject(Error("Already subscribing"));
      }
      let retryInterval = this.subscribeRetryInterval;
      return new Promise((resolve, reject) => {
        let id = ++commandID;
        this.cable.send(this.buildSubscribeRequest(identifier));
        this.pendingSubscriptions[identifier] = {
          resolve,
          reject,
          id
        };
        this.maybeRetrySubscribe(id, identifier, retryInterval);
      });
    }
    buildSubscribeRequest(identifier) {
      return {
        command: "subscribe",
        identifier
      };
    }
    maybeRetrySubscribe(id, identifier, retryInterval) {
      setTimeout(() => {
        let sub = this.pendingSubscriptions[identifier];
        if (!sub) return;
        if (sub.id !== id) return;
        this.logger.warn(
          `no subscription ack received in ${retryInterval}ms, retrying subscribe`,
          identifier
        );
        this.cable.send(this.buildSubscribeRequest(identifier));
        this.maybeExpireSubscribe(id, identifier, retryInterval);
      }, retryInterval);
    }
    maybeExpireSubscribe(id, identifier, retryInterval) {
      setTimeout(() => {
        let sub = this.pendingSubscriptions[identifier];
        if (!sub) return;
        if (sub.id !== id) return;
        delete this.pendingSubscriptions[identifier];
        sub.reject(
          new SubscriptionTimeoutError(
            `Haven't received subscription ack in ${retryInterval * 2}ms for ${identifier}`
          )
        );
      }, retryInterval);
    }
    unsubscribe(identifier) {
      this.cable.send({
        command: "unsubscribe",
        identifier
      });
      this.pendingUnsubscriptions[identifier] = true;
      setTimeout(() => {
        delete this.pendingUnsubscriptions[identifier];
      }, this.subscribeCooldownInterval);
      return Promise.resolve();
    }
    perform(identifier, action, payload) {
      if (action === "$whisper") {
        return this.whisper(identifier, payload);
      }
      if (!payload) {
        payload = {};
      }
      payload.action || (payload.action = action);
      this.cable.send({
        command: "message",
        identifier,
        data: JSON.stringify(payload)
      });
      return Promise.resolve();
    }
    whisper(identifier, data) {
      this.cable.send({
        command: "whisper",
        identifier,
        data
      });
      return Promise.resolve();
    }
    receive(msg) {
      if (typeof msg !== "object") {
        this.logger.error("unsupported message format", { message: msg });
        return;
      }
      let { type, identifier, message, reason, reconnect } = msg;
      if (type === "ping") {
        return this.cable.keepalive(msg.message);
      } else {
        this.cable.keepalive();
      }
      if (type === "welcome") {
        let sessionId = msg.sid;
        if (sessionId) this.cable.setSessionId(sessionId);
        return this.cable.connected();
      }
      if (type === "disconnect") {
        let err = new DisconnectedError(reason);
        this.reset(err);
        if (reconnect === false) {
          this.cable.closed(err);
        } else {
          this.cable.disconnected(err);
        }
        return;
      }
      if (type === "confirm_subscription") {
        let subscription = this.pendingSubscriptions[identifier];
        if (!subscription) {
          this.logger.error("subscription not found, unsubscribing", {
            type,
            identifier
          });
          this.unsubscribe(identifier);
          return;
        }
        delete this.pendingSubscriptions[identifier];
        return subscription.resolve(identifier);
      }
      if (type === "reject_subscription") {
        let subscription = this.pendingSubscriptions[identifier];
        if (!subscription) {
          return this.logger.error("subscription not found", { type, identifier });
        }
        delete this.pendingSubscriptions[identifier];
        return subscription.reject(new SubscriptionRejectedError());
      }
      if (message) {
        return { identifier, message };
      }
      this.logger.warn(`unknown message type: ${type}`, { message: msg });
    }
    reset(err) {
      for (let identifier in this.pendingSubscriptions) {
        this.pendingSubscriptions[identifier].reject(err);
      }
      this.pendingSubscriptions = {};
    }
    recoverableClosure() {
      return false;
    }
  };

  // node_modules/@anycable/core/action_cable_ext/index.js
  var now = () => Date.now() / 1e3 | 0;
  var ActionCableExtendedProtocol = class extends ActionCableProtocol {
    constructor(opts = {}) {
      super(opts);
      this.streamsPositions = {};
      this.subscriptionStreams = {};
      this.pendingHistory = {};
      this.pendingPresence = {};
      this.presenceInfo = {};
      this.restoreSince = opts.historyTimestamp;
      this.disableSessionRecovery = opts.disableSessionRecovery;
      if (this.restoreSince === void 0) this.restoreSince = now();
      this.sessionId = void 0;
      this.sendPongs = opts.pongs;
    }
    reset(err) {
      for (let identifier in this.pendingPresence) {
        this.pendingPresence[identifier].reject(err);
      }
      this.pendingPresence = {};
      return super.reset();
    }
    receive(msg) {
      if (typeof msg !== "object") {
        this.logger.error("unsupported message format", { message: msg });
        return;
      }
      let { type, identifier, message } = msg;
      if (type === "disconnect") {
        delete this.sessionId;
        this.cable.setSessionId("");
        return super.receive(msg);
      }
      if (type === "reject_subscription") {
        return super.receive(msg);
      }
      if (type === "confirm_subscription") {
        if (!this.subscriptionStreams[identifier]) {
          this.subscriptionStreams[identifier] = /* @__PURE__ */ new Set();
        }
        return super.receive(msg);
      }
      if (type === "ping") {
        if (!this.restoreSince === false) {
          this.restoreSince = now();
        }
        if (this.sendPongs) {
          this.sendPong();
        }
        return this.cable.keepalive(msg.message);
      } else {
        this.cable.keepalive();
      }
      if (type === "confirm_history") {
        this.logger.debug("history result received", msg);
        this.cable.notify("history_received", identifier);
        return;
      }
      if (type === "reject_history") {
        this.logger.warn("failed to retrieve history", msg);
        this.cable.notify("history_not_found", identifier);
        return;
      }
      if (type === "welcome") {
        if (!this.disableSessionRecovery) {
          this.sessionId = msg.sid;
          if (this.sessionId) this.cable.setSessionId(this.sessionId);
        }
        if (msg.restored) {
          let restoredIds = msg.restored_ids || Object.keys(this.subscriptionStreams);
          for (let restoredId of restoredIds) {
            this.cable.send({
              identifier: restoredId,
              command: "history",
              history: this.historyRequestFor(restoredId)
            });
            if (this.presenceInfo[restoredId]) {
              this.cable.send({
                identifier: restoredId,
                command: "join",
                presence: this.presenceInfo[restoredId]
              });
            }
          }
          return this.cable.restored(restoredIds);
        }
        return this.cable.connected(this.sessionId);
      }
      if (type === "presence") {
        let presenceType = message.type;
        if (presenceType === "info") {
          let pending = this.pendingPresence[identifier];
          if (pending) {
            delete this.pendingPresence[identifier];
            pending.resolve(message);
          }
        } else if (presenceType === "error") {
          let pending = this.pendingPresence[identifier];
          if (pending) {
            delete this.pendingPresence[identifier];
            pending.reject(new Error("failed to retrieve presence"));
          }
        }
        return {
          type,
          identifier,
          message
        };
      }
      if (message) {
        let meta = this.trackStreamPosition(
          identifier,
          msg.stream_id,
          msg.epoch,
          msg.offset
        );
        return { identifier, message, meta };
      }
      this.logger.warn(`unknown message type: ${type}`, { message: msg });
    }
    perform(identifier, action, payload) {
      switch (action) {
        case "$presence:join":
          return this.join(identifier, payload);
        case "$presence:leave":
          return this.leave(identifier, payload);
        case "$presence:info":
          return this.presence(identifier, payload);
      }
      return super.perform(identifier, action, payload);
    }
    unsubscribe(identifier) {
      delete this.presenceInfo[identifier];
      return super.unsubscribe(identifier);
    }
    buildSubscribeRequest(identifier) {
      let req = super.buildSubscribeRequest(identifier);
      let historyReq = this.historyRequestFor(identifier);
      if (historyReq) {
        req.history = historyReq;
        this.pendingHistory[identifier] = true;
      }
      let presence = this.presenceInfo[identifier];
      if (presence) {
        req.presence = presence;
      }
      return req;
    }
    // TODO: Which error can be non-recoverable?
    recoverableClosure() {
      return !!this.sessionId;
    }
    historyRequestFor(identifier) {
      let streams = {};
      let hasStreams = false;
      if (this.subscriptionStreams[identifier]) {
        for (let stream of this.subscriptionStreams[identifier]) {
          let record = this.streamsPositions[stream];
          if (record) {
            hasStreams = true;
            streams[stream] = record;
          }
        }
      }
      if (!hasStreams && !this.restoreSince) return;
      return { since: this.restoreSince, streams };
    }
    trackStreamPosition(identifier, stream, epoch, offset) {
      if (!stream || !epoch) return;
      if (!this.subscriptionStreams[identifier]) {
        this.subscriptionStreams[identifier] = /* @__PURE__ */ new Set();
      }
      this.subscriptionStreams[identifier].add(stream);
      this.streamsPositions[stream] = { epoch, offset };
      return { stream, epoch, offset };
    }
    // Send pongs asynchrounously—no need to block the main thread
    async sendPong() {
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (this.cable.state === "connected") {
        this.cable.send({ command: "pong" });
      }
    }
    async join(identifier, presence) {
      this.cable.send({
        command: "join",
        identifier,
        presence
      });
      this.presenceInfo[identifier] = presence;
      return Promise.resolve();
    }
    async leave(identifier, presence) {
      this.cable.send({
        command: "leave",
        identifier,
        presence
      });
      delete this.presenceInfo[identifier];
      return Promise.resolve();
    }
    presence(identifier, data) {
      if (this.pendingPresence[identifier]) {
        this.logger.warn("presence is already pending, skipping", identifier);
        return Promise.reject(Error("presence request is already pending"));
      }
      return new Promise((resolve, reject) => {
        this.cable.send({
          command: "presence",
          identifier,
          data
        });
        this.pendingPresence[identifier] = {
          resolve,
          reject
        };
      });
    }
  };

  // node_modules/@anycable/core/cable/index.js
  var NoConnectionError = class extends ReasonError {
    constructor() {
      super("No connection", "closed");
      this.name = "NoConnectionError";
    }
  };
  var GhostChannel = class extends Channel {
    constructor(channelId, params) {
      super(params);
      this.channelId = channelId;
    }
    set channelId(val) {
      this._channelId = val;
    }
    get channelId() {
      return this._channelId;
    }
  };
  __publicField(GhostChannel, "identifier", "__ghost__");
  var PUBSUB_CHANNEL = "$pubsub";
  var PubSubChannel = class extends Channel {
    async perform(action, payload) {
      if (action.startsWith("$")) {
        return super.perform(action, payload);
      }
      throw Error("not implemented");
    }
  };
  __publicField(PubSubChannel, "identifier", PUBSUB_CHANNEL);
  var STATE2 = /* @__PURE__ */ Symbol("state");
  var Cable = class {
    constructor({
      transport,
      protocol,
      encoder,
      logger,
      lazy,
      hubOptions,
      performFailures,
      transportConfigurator
    }) {
      this.emitter = createNanoEvents();
      this.transport = transport;
      this.encoder = encoder;
      this.logger = logger || new NoopLogger();
      this.protocol = protocol;
      this.performFailures = performFailures || "throw";
      this.protocol.attached(this);
      this.hub = new Hub(hubOptions || {});
      this[STATE2] = "idle";
      this.handleClose = this.handleClose.bind(this);
      this.handleIncoming = this.handleIncoming.bind(this);
      this.transportConfigurator = transportConfigurator;
      this.transport.on("close", this.handleClose);
      this.transport.on("data", this.handleIncoming);
      this.initialConnect = true;
      this.recovering = false;
      if (lazy === false) {
        this.connect().catch(() => {
        });
      }
    }
    get state() {
      return this[STATE2];
    }
    async connect() {
      if (this.state === "connected") return Promise.resolve();
      if (this.state === "connecting") {
        return this.pendingConnect();
      }
      let wasIdle = this.state === "idle";
      this[STATE2] = "connecting";
      let promise = this.pendingConnect();
      this.logger.debug("connecting");
      try {
        if (this.transportConfigurator) {
          await this.transportConfigurator(this.transport, {
            initial: wasIdle
          });
        }
        await this.transport.open();
      } catch (err) {
        this.handleClose(err);
      }
      return promise;
    }
    setSessionId(sessionId) {
      this.sessionId = sessionId;
      this.transport.setParam("sid", sessionId);
    }
    connected() {
      if (this.state === "connected") return;
      this.logger.info("connected");
      this[STATE2] = "connected";
      if (this.recovering) {
        this.hub.subscriptions.all().forEach(
          (subscription) => subscription.notify(
            "disconnected",
            new DisconnectedError("recovery_failed")
          )
        );
      }
      this.hub.subscriptions.all().forEach((subscription) => this._resubscribe(subscription));
      let restored = false;
      this.recovering = false;
      if (this.initialConnect) {
        this.initialConnect = false;
        this.emit("connect", { reconnect: false, restored });
      } else {
        this.emit("connect", { reconnect: true, restored });
      }
    }
    restored(remoteIds) {
      this.logger.info("connection recovered", { remoteIds });
      this[STATE2] = "connected";
      this.hub.subscriptions.all().forEach((subscription) => {
        if (remoteIds && subscription.remoteId && remoteIds.includes(subscription.remoteId)) {
          subscription.notify("restored");
        } else {
          subscription.notify(
            "disconnected",
            new DisconnectedError("recovery_failed")
          );
          this._resubscribe(subscription);
        }
      });
      let reconnect = !this.initialConnect;
      let restored = true;
      this.recovering = false;
      this.initialConnect = false;
      this.emit("connect", { reconnect, restored });
    }
    notify(event, identifier, data) {
      if (identifier && typeof identifier !== "string") {
        data = identifier;
        identifier = void 0;
      }
      if (!identifier) {
        this.emit("info", { type: event, data });
      } else {
        this.hub.notify(identifier, "info", { type: event, data });
      }
    }
    handleClose(err) {
      this.logger.debug("transport closed", { error: err });
      this.disconnected(new DisconnectedError(err, "transport_closed"));
    }
    disconnected(err) {
      if (!(this.state === "connected" || this.state === "connecting")) {
        return;
      }
      this.logger.info("disconnected", { reason: err });
      this[STATE2] = "disconnected";
      this.recovering = this.protocol.recoverableClosure(err);
      if (this.recovering) {
        this.hub.subscriptions.all().forEach((subscription) => subscription.notify("connecting"));
      } else {
        this.hub.subscriptions.all().forEach((subscription) => {
          subscription.notify("disconnected", err);
        });
      }
      this.protocol.reset(err);
      this.hub.close();
      this.transport.close();
      this.emit("disconnect", err);
    }
    closed(reason) {
      if (this.state === "closed" || this.state === "idle") return;
      let err;
      if (reason) {
        err = reason instanceof DisconnectedError ? reason : new DisconnectedError(reason, void 0);
      }
      this.logger.info("closed", { reason: reason || "user" });
      this[STATE2] = "closed";
      let channelErr = err || new DisconnectedError("cable_closed");
      this.hub.subscriptions.all().forEach((subscription) => subscription.notify("disconnected", channelErr));
      this.hub.close();
      this.protocol.reset();
      this.transport.close();
      this.initialConnect = true;
      this.emit("close", err);
    }
    disconnect() {
      this.closed();
    }
    handleIncoming(raw) {
      if (this.state === "closed" || this.state === "idle") {
        return;
      }
      let data = this.encoder.decode(raw);
      if (data === void 0) {
        this.logger.error("failed to decode message", { message: raw });
        return;
      }
      this.logger.debug("incoming data", data);
      let processed = this.protocol.receive(data);
      if (processed) {
        this.logger.debug("processed incoming message", processed);
        let { type, identifier, message, meta } = processed;
        if (type) {
          this.hub.notify(identifier, type, message);
        } else {
          this.hub.transmit(identifier, message, meta);
        }
      }
    }
    send(msg) {
      if (this.state === "closed") {
        throw Error("Cable is closed");
      }
      let data = this.encoder.encode(msg);
      if (data === void 0) {
        this.logger.error("failed to encode message", { message: msg });
        return;
      }
      this.logger.debug("outgoing message", msg);
      try {
        this.transport.send(data);
      } catch (err) {
        throw err instanceof ReasonError ? err : new DisconnectedError(err, "transport_closed");
      }
    }
    keepalive(msg) {
      this.emit("keepalive", msg);
    }
    streamFrom(name) {
      let channel = new PubSubChannel({ stream_name: name });
      return this.subscribe(channel);
    }
    streamFromSigned(name) {
      let channel = new PubSubChannel({ signed_stream_name: name });
      return this.subscribe(channel);
    }
    subscribeTo(ChannelClass, params) {
      let channel;
      let ghostName;
      if (typeof ChannelClass === "string") {
        ghostName = ChannelClass;
        ChannelClass = GhostChannel;
      }
      channel = ghostName ? new ChannelClass(ghostName, params) : new ChannelClass(params);
      return this.subscribe(channel);
    }
    subscribe(channel) {
      if (!channel.attached(this)) return channel;
      let identifier = channel.identifier;
      channel.connecting();
      let subscription = this.hub.subscriptions.get(identifier) || this.hub.subscriptions.create(identifier, {
        subscribe: (sub) => {
          return this._subscribe(sub, channel.channelId, channel.params);
        },
        unsubscribe: (sub) => this._unsubscribe(sub)
      });
      subscription.add(channel);
      if (subscription.intent === "subscribed" && subscription.state === "connected") {
        channel.connected();
      }
      subscription.ensureSubscribed();
      return channel;
    }
    async _resubscribe(subscription) {
      if (subscription.intent !== "subscribed") return;
      let channel = subscription.channels[0];
      if (!channel) return;
      subscription.notify("connecting");
      subscription.ensureResubscribed();
    }
    async _subscribe(subscription, channelId, params) {
      let identifier = subscription.id;
      if (this.state === "idle") {
        this.connect().catch(() => {
        });
      }
      if (this.state !== "connected") {
        this.logger.debug("cancel subscribe, no connection", { identifier });
        return;
      }
      this.logger.debug("acquiring subscribe lock", { identifier });
      let lock = await subscription.acquire("subscribed");
      if (lock.canceled) {
        this.logger.debug("subscribe lock has been canceled", { identifier });
        lock.release();
        return;
      }
      this.logger.debug("subscribe lock has been acquired", { identifier });
      if (subscription.intent !== "subscribed") {
        this.logger.debug("cancel subscribe request, already unsubscribed");
        lock.release();
        return;
      }
      if (this.state !== "connected") {
        this.logger.debug("cancel subscribe, no connection", { identifier });
        lock.release();
        return;
      }
      if (subscription.state === "connected") {
        this.logger.debug("already connected, skip subscribe command", {
          identifier
        });
        subscription.notify("connected");
        lock.release();
        return;
      }
      let channelMeta = {
        identifier: channelId,
        params
      };
      this.logger.debug("subscribing", channelMeta);
      try {
        let remoteId = await this.protocol.subscribe(channelId, params);
        this.hub.subscribe(identifier, remoteId);
        this.logger.debug("subscribed", { ...channelMeta, remoteId });
        subscription.notify("connected");
      } catch (err) {
        if (err) {
          if (err instanceof SubscriptionRejectedError) {
            this.logger.warn("rejected", channelMeta);
          }
          if (err instanceof DisconnectedError) {
            this.logger.debug(
              "disconnected during subscription; will retry on connect",
              channelMeta
            );
            lock.release();
            return;
          }
          this.logger.error("failed to subscribe", {
            error: err,
            ...channelMeta
          });
        }
        subscription.close(err);
        this.hub.unsubscribe(identifier);
      }
      lock.release();
    }
    unsubscribe(channel) {
      let identifier = channel.identifier;
      let subscription = this.hub.subscriptions.get(identifier);
      if (!subscription) {
        throw Error(`Subscription not found: ${identifier}`);
      }
      subscription.remove(channel);
      channel.closed();
      subscription.maybeUnsubscribe();
    }
    async _unsubscribe(subscription) {
      let identifier = subscription.id;
      this.logger.debug("acquiring unsubscribe lock", { identifier });
      let lock = await subscription.acquire("unsubscribed");
      if (lock.canceled) {
        this.logger.debug("unsubscribe lock has been canceled", { identifier });
        lock.release();
        return;
      }
      this.logger.debug("unsubscribe lock has been acquired", { identifier });
      if (subscription.intent !== "unsubscribed") {
        this.logger.debug("cancel unsubscribe, no longer needed", {
          identifier,
          intent: subscription.intent
        });
        lock.release();
        return;
      }
      if (subscription.state === "disconnected" || subscription.state === "closed") {
        this.logger.debug(
          `already ${subscription.state} connected, skip unsubscribe command`,
          { identifier }
        );
        lock.release();
        return;
      }
      let remoteId = subscription.remoteId;
      this.logger.debug("unsubscribing...", { remoteId });
      if (this.state !== "connected") {
        this.logger.debug("unsubscribe skipped (cable is not connected)", {
          id: identifier
        });
        subscription.close();
        this.hub.unsubscribe(identifier);
        lock.release();
        return;
      }
      try {
        await this.protocol.unsubscribe(remoteId);
        this.logger.debug("unsubscribed remotely", { id: identifier });
      } catch (err) {
        if (err) {
          if (err instanceof DisconnectedError) {
            this.logger.debug(
              "cable disconnected during the unsubscribe command execution",
              { id: identifier, error: err }
            );
          } else {
            this.logger.error("unsubscribe failed", {
              id: identifier,
              error: err
            });
          }
        }
      }
      if (subscription.intent === "unsubscribed") {
        subscription.close();
        this.hub.unsubscribe(identifier);
      } else {
        subscription.state = "closed";
      }
      lock.release();
    }
    async perform(identifier, action, payload) {
      if (this.performFailures === "throw") {
        return this._perform(identifier, action, payload);
      }
      try {
        return await this._perform(identifier, action, payload);
      } catch (err) {
        if (this.performFailures === "warn") {
          this.logger.warn("perform failed", { error: err });
        }
        return void 0;
      }
    }
    async _perform(identifier, action, payload) {
      if (this.state === "connecting") {
        await this.pendingConnect();
      }
      if (this.state === "closed" || this.state === "disconnected") {
        throw new NoConnectionError();
      }
      let subscription = this.hub.subscriptions.get(identifier);
      if (!subscription) {
        throw Error(`Subscription not found: ${identifier}`);
      }
      await subscription.pending("subscribed");
      if (subscription.intent !== "subscribed") {
        throw Error(`Subscription is closed: ${identifier}`);
      }
      let remoteId = subscription.remoteId;
      let performMeta = {
        id: remoteId,
        action,
        payload
      };
      this.logger.debug("perform", performMeta);
      try {
        let res = await this.protocol.perform(remoteId, action, payload);
        if (res) {
          this.logger.debug("perform result", {
            message: res,
            request: performMeta
          });
        }
        return res;
      } catch (err) {
        this.logger.error("perform failed", {
          error: err,
          request: performMeta
        });
        throw err;
      }
    }
    on(event, callback) {
      return this.emitter.on(event, callback);
    }
    once(event, callback) {
      let unbind = this.emitter.on(event, (...args) => {
        unbind();
        callback(...args);
      });
      return unbind;
    }
    emit(event, ...args) {
      return this.emitter.emit(event, ...args);
    }
    pendingConnect() {
      if (this._pendingConnect) return this._pendingConnect;
      this._pendingConnect = new Promise((resolve, reject) => {
        let unbind = [() => delete this._pendingConnect];
        unbind.push(
          this.on("connect", () => {
            unbind.forEach((clbk) => clbk());
            resolve();
          })
        );
        unbind.push(
          this.on("close", (err) => {
            unbind.forEach((clbk) => clbk());
            reject(err);
          })
        );
        unbind.push(
          this.on("disconnect", (err) => {
            unbind.forEach((clbk) => clbk());
            reject(err);
          })
        );
      });
      return this._pendingConnect;
    }
  };

  // node_modules/@anycable/core/monitor/index.js
  var defaults = {
    maxMissingPings: 2,
    maxReconnectAttempts: Infinity
  };
  var now2 = () => Date.now();
  var backoffWithJitter = (interval, opts) => {
    opts = opts || {};
    let { backoffRate, jitterRatio, maxInterval } = opts;
    backoffRate = backoffRate || 2;
    if (jitterRatio === void 0) jitterRatio = 0.5;
    return (attempts) => {
      let left = interval * backoffRate ** attempts;
      let right = left * backoffRate;
      let delay = left + (right - left) * Math.random();
      let deviation = 2 * (Math.random() - 0.5) * jitterRatio;
      delay = delay * (1 + deviation);
      if (maxInterval && maxInterval < delay) delay = maxInterval;
      return delay;
    };
  };
  var Monitor = class {
    constructor({ pingInterval, ...opts }) {
      this.pingInterval = pingInterval;
      if (!this.pingInterval) {
        throw Error(`Incorrect pingInterval is provided: ${pingInterval}`);
      }
      opts = Object.assign({}, defaults, opts);
      this.strategy = opts.reconnectStrategy;
      if (!this.strategy) {
        throw Error("Reconnect strategy must be provided");
      }
      this.maxMissingPings = opts.maxMissingPings;
      this.maxReconnectAttempts = opts.maxReconnectAttempts;
      this.logger = opts.logger || new NoopLogger();
      this.state = "pending_connect";
      this.attempts = 0;
      this.disconnectedAt = now2();
    }
    watch(target) {
      this.target = target;
      this.initListeners();
    }
    reconnectNow() {
      if (this.state === "connected" || this.state === "pending_connect" || this.state === "closed") {
        return false;
      }
      this.cancelReconnect();
      this.state = "pending_connect";
      this.target.connect().catch((err) => {
        this.logger.info("Failed at reconnecting: " + err);
      });
      return true;
    }
    initListeners() {
      this.unbind = [];
      this.unbind.push(
        this.target.on("connect", () => {
          this.attempts = 0;
          this.pingedAt = now2();
          this.state = "connected";
          this.cancelReconnect();
          this.startPolling();
        })
      );
      this.unbind.push(
        this.target.on("disconnect", () => {
          this.disconnectedAt = now2();
          this.state = "disconnected";
          this.stopPolling();
          this.scheduleReconnect();
        })
      );
      this.unbind.push(
        this.target.on("close", () => {
          this.disconnectedAt = now2();
          this.state = "closed";
          this.cancelReconnect();
          this.stopPolling();
        })
      );
      this.unbind.push(
        this.target.on("keepalive", () => {
          this.pingedAt = now2();
        })
      );
      this.unbind.push(() => {
        this.cancelReconnect();
        this.stopPolling();
      });
    }
    dispose() {
      delete this.target;
      if (this.unbind) {
        this.unbind.forEach((clbk) => clbk());
      }
      delete this.unbind;
    }
    startPolling() {
      if (this.pollId) {
        clearTimeout(this.pollId);
      }
      let pollDelay = this.pingInterval + (Math.random() - 0.5) * this.pingInterval * 0.5;
      this.pollId = setTimeout(() => {
        this.checkStale();
        if (this.state === "connected") this.startPolling();
      }, pollDelay);
    }
    stopPolling() {
      if (this.pollId) {
        clearTimeout(this.pollId);
      }
    }
    checkStale() {
      let diff = now2() - this.pingedAt;
      if (diff > this.maxMissingPings * this.pingInterval) {
        this.logger.warn(`Stale connection: ${diff}ms without pings`);
        this.state = "pending_disconnect";
        this.target.disconnected(new StaleConnectionError());
      }
    }
    scheduleReconnect() {
      if (this.attempts >= this.maxReconnectAttempts) {
        this.target.close();
        return;
      }
      let delay = this.strategy(this.attempts);
      this.attempts++;
      this.logger.info(`Reconnecting in ${delay}ms (${this.attempts} attempt)`);
      this.state = "pending_reconnect";
      this.reconnnectId = setTimeout(() => this.reconnectNow(), delay);
    }
    cancelReconnect() {
      if (this.reconnnectId) {
        clearTimeout(this.reconnnectId);
        delete this.reconnnectId;
      }
    }
  };

  // node_modules/@anycable/core/transport/index.js
  var FallbackTransport = class {
    constructor(transports, opts = {}) {
      this.transports = transports;
      this.transport = null;
      this.emitter = createNanoEvents();
      this.unbind = [];
      this.logger = opts.logger || new NoopLogger();
    }
    displayName() {
      return "fallbacked transport";
    }
    async open() {
      for (let i = 0; i < this.transports.length; i++) {
        let transport = this.transports[i];
        try {
          this.transport = transport;
          this.resetListeners();
          this.logger.debug(`Trying to connect via ${transport.displayName()}`);
          await transport.open();
          this.logger.debug(`Connected via ${transport.displayName()}`);
          return;
        } catch (e) {
          this.logger.debug(
            `Failed to connect via ${transport.displayName()}: ${e.message}`
          );
        }
      }
      this.transport = null;
      this.resetListeners();
      throw new Error(`Couldn't connect via any available transport`);
    }
    send(data) {
      if (!this.transport) {
        throw new Error("No transport is open");
      }
      this.transport.send(data);
    }
    async close() {
      if (!this.transport) {
        throw new Error("No transport is open");
      }
      await this.transport.close();
      this.transport = null;
    }
    setURL() {
      throw new Error("Not implemented. Set URL for each transport separately");
    }
    setParam(key, val) {
      this.transports.forEach((transport) => {
        transport.setParam(key, val);
      });
    }
    setToken(val, name) {
      this.transports.forEach((transport) => {
        transport.setToken(val, name);
      });
    }
    on(event, callback) {
      return this.emitter.on(event, callback);
    }
    once(event, callback) {
      let unbind = this.emitter.on(event, (...args) => {
        unbind();
        callback(...args);
      });
      return unbind;
    }
    get url() {
      if (!this.transport) return "";
      return this.transport.url;
    }
    resetListeners() {
      this.unbind.forEach((clbk) => clbk());
      this.unbind.length = 0;
      if (!this.transport) return;
      this.unbind.push(
        this.transport.on("open", () => {
          this.emitter.emit("open");
        }),
        this.transport.on("data", (data) => {
          this.emitter.emit("data", data);
        }),
        this.transport.on("close", (ev) => {
          this.emitter.emit("close", ev);
        }),
        this.transport.on("error", (ev) => {
          this.emitter.emit("error", ev);
        })
      );
    }
  };

  // node_modules/@anycable/core/websocket/index.js
  var WebSocketTransport = class {
    constructor(url, opts = {}) {
      this.url = url;
      let Impl = opts.websocketImplementation;
      if (Impl) {
        this.Impl = Impl;
      } else if (typeof WebSocket !== "undefined") {
        this.Impl = WebSocket;
      } else {
        throw new Error("No WebSocket support");
      }
      this.connected = false;
      this.emitter = createNanoEvents();
      let { format, subprotocol, authStrategy } = opts;
      this.format = format || "text";
      this.connectionOptions = opts.websocketOptions;
      this.authStrategy = authStrategy || "param";
      this.authProtocol = "";
      this.subprotocol = subprotocol;
    }
    displayName() {
      return "WebSocket(" + this.url + ")";
    }
    open() {
      let protocols = this.subprotocol;
      if (this.authStrategy === "sub-protocol") {
        protocols = [this.subprotocol, this.authProtocol];
      }
      if (this.connectionOptions) {
        this.ws = new this.Impl(this.url, protocols, this.connectionOptions);
      } else {
        this.ws = new this.Impl(this.url, protocols);
      }
      this.ws.binaryType = "arraybuffer";
      this.initListeners();
      return new Promise((resolve, reject) => {
        let unbind = [];
        unbind.push(
          this.once("open", () => {
            unbind.forEach((clbk) => clbk());
            resolve();
          })
        );
        unbind.push(
          this.once("close", () => {
            unbind.forEach((clbk) => clbk());
            reject(Error("WS connection closed"));
          })
        );
      });
    }
    setURL(url) {
      this.url = url;
    }
    setParam(key, val) {
      let url = new URL(this.url);
      url.searchParams.set(key, val);
      let newURL = `${url.protocol}//${url.host}${url.pathname}?${url.searchParams}`;
      this.setURL(newURL);
    }
    setToken(val, key = "jid") {
      if (this.authStrategy === "param") {
        this.setParam(key, val);
      } else if (this.authStrategy === "header") {
        this.connectionOptions = this.connectionOptions || {};
        this.connectionOptions.headers = this.connectionOptions.headers || {};
        let authHeaderKey = `x-${key}`.toLowerCase();
        let existingKey = Object.keys(this.connectionOptions.headers).find(
          (k) => k.toLowerCase() === authHeaderKey
        );
        authHeaderKey = existingKey || authHeaderKey;
        this.connectionOptions.headers[authHeaderKey] = val;
      } else if (this.authStrategy === "sub-protocol") {
        this.authProtocol = `anycable-token.${val}`;
      } else {
        throw new Error("Unknown auth strategy: " + this.authStrategy);
      }
    }
    send(data) {
      if (!this.ws || !this.connected) {
        throw Error("WebSocket is not connected");
      } else {
        this.ws.send(data);
      }
    }
    close() {
      if (this.ws) {
        this.onclose();
      } else {
        this.connected = false;
      }
    }
    on(event, callback) {
      return this.emitter.on(event, callback);
    }
    once(event, callback) {
      let unbind = this.emitter.on(event, (...args) => {
        unbind();
        callback(...args);
      });
      return unbind;
    }
    initListeners() {
      this.ws.onerror = (event) => {
        if (this.connected) {
          this.emitter.emit("error", event.error || new Error("WS Error"));
        }
      };
      this.ws.onclose = () => {
        this.onclose();
      };
      this.ws.onmessage = (event) => {
        let data = event.data;
        if (this.format === "binary") {
          data = new Uint8Array(data);
        }
        this.emitter.emit("data", data);
      };
      this.ws.onopen = () => {
        this.connected = true;
        this.emitter.emit("open");
      };
    }
    onclose() {
      this.ws.onclose = void 0;
      this.ws.onmessage = void 0;
      this.ws.onopen = void 0;
      this.ws.close();
      delete this.ws;
      this.connected = false;
      this.emitter.emit("close");
    }
  };

  // node_modules/@anycable/core/action_cable_compat/index.js
  var ActionCableSubscription = class {
    constructor(channel) {
      this.channel = channel;
    }
    notify(callback, ...args) {
      if (typeof this[callback] !== "function") return;
      this[callback](...args);
    }
    perform(action, data = {}) {
      this.channel.perform(action, data);
    }
    send(data) {
      this.channel.send(data);
    }
    whisper(data) {
      return this.channel.whisper(data);
    }
    get identifier() {
      return this.channel.identifier;
    }
    unsubscribe() {
      return this.channel.disconnect();
    }
  };
  var ActionCableChannel = class extends GhostChannel {
    constructor(channelName, params, mixin) {
      super(channelName, params);
      this.subscription = new ActionCableSubscription(this);
      Object.assign(this.subscription, mixin);
      this.on(
        "connect",
        ({ reconnect }) => this.subscription.notify("connected", { reconnected: reconnect })
      );
      this.on(
        "disconnect",
        () => this.subscription.notify("disconnected", { allowReconnect: true })
      );
      this.on("message", (val) => this.subscription.notify("received", val));
      this.on("close", (err) => {
        if (err && err instanceof SubscriptionRejectedError) {
          this.subscription.notify("rejected");
        } else {
          this.subscription.notify("disconnected", { allowReconnect: false });
        }
      });
    }
  };
  var ActionCableSubscriptions = class {
    constructor(cable) {
      this.cable = cable;
    }
    create(channel, mixin) {
      let channelName;
      let params;
      if (typeof channel === "object") {
        channelName = channel.channel;
        delete channel.channel;
        params = channel;
      } else {
        channelName = channel;
        params = {};
      }
      let cableChannel = new ActionCableChannel(channelName, params, mixin);
      cableChannel.subscription.notify("initialized");
      this.cable.subscribe(cableChannel);
      return cableChannel.subscription;
    }
    findAll(identifier) {
      return this.cable.hub.channels.filter((channel) => channel.identifier === identifier).map((channel) => channel.subscription);
    }
  };
  var ActionCableConsumer = class {
    constructor(cable) {
      this.cable = cable;
      this.subscriptions = new ActionCableSubscriptions(cable);
    }
    send(data) {
      return this.cable.send(data);
    }
    connect() {
      return this.cable.connect();
    }
    disconnect() {
      return this.cable.disconnect();
    }
    ensureActiveConnection() {
      return this.cable.connect();
    }
  };

  // node_modules/@anycable/core/create-cable/index.js
  var DEFAULT_OPTIONS = {
    protocol: "actioncable-v1-json",
    pingInterval: 3e3,
    maxReconnectAttempts: Infinity,
    maxMissingPings: 2,
    logLevel: "warn",
    lazy: true
  };
  function createCable(url, opts) {
    if (typeof url === "object" && typeof opts === "undefined") {
      opts = url;
      url = void 0;
    }
    opts = opts || {};
    if (!url && !opts.transport) throw Error("URL or transport must be specified");
    opts = Object.assign({}, DEFAULT_OPTIONS, opts);
    let {
      protocol,
      websocketImplementation,
      websocketFormat,
      websocketOptions,
      websocketAuthStrategy,
      fallbacks,
      logLevel,
      logger,
      transport,
      encoder,
      lazy,
      monitor,
      pingInterval,
      reconnectStrategy,
      maxMissingPings,
      maxReconnectAttempts,
      subprotocol,
      tokenRefresher,
      historyTimestamp,
      protocolOptions,
      concurrentSubscribes,
      performFailures,
      transportConfigurator,
      auth
    } = opts;
    logger = logger || new NoopLogger(logLevel);
    if (typeof protocol === "string") {
      subprotocol = subprotocol || protocol;
      let protocolName = protocol.substring(0, protocol.lastIndexOf("-"));
      let protocolEncoderName = protocol.substring(protocol.lastIndexOf("-") + 1);
      protocolOptions = protocolOptions || {};
      if (protocolName === "actioncable-v1") {
        protocol = new ActionCableProtocol({ logger, ...protocolOptions });
      } else if (protocolName === "actioncable-v1-ext") {
        protocol = new ActionCableExtendedProtocol({
          logger,
          historyTimestamp,
          ...protocolOptions
        });
      } else {
        throw Error(`Protocol is not supported yet: ${protocol}`);
      }
      if (protocolEncoderName === "json") {
        encoder = encoder || new JSONEncoder();
        websocketFormat = websocketFormat || "text";
      } else if (protocolEncoderName === "msgpack") {
        websocketFormat = "binary";
        if (!encoder) {
          throw Error(
            "Msgpack encoder must be specified explicitly. Use `@anycable/msgpack-encoder` package or build your own"
          );
        }
      } else if (protocolEncoderName === "protobuf") {
        websocketFormat = websocketFormat || "binary";
        if (!encoder) {
          throw Error(
            "Protobuf encoder must be specified explicitly. Use `@anycable/protobuf-encoder` package or build your own"
          );
        }
      } else {
        throw Error(`Protocol is not supported yet: ${protocol}`);
      }
    }
    if (!protocol) throw Error("Protocol must be specified");
    transport = transport || new WebSocketTransport(url, {
      websocketImplementation,
      websocketOptions,
      subprotocol,
      authStrategy: websocketAuthStrategy,
      format: websocketFormat
    });
    if (fallbacks) {
      transport = new FallbackTransport([transport, ...fallbacks], { logger });
    }
    if (auth && auth.token) {
      transport.setToken(auth.token, auth.param || "jid");
    }
    reconnectStrategy = reconnectStrategy || backoffWithJitter(pingInterval);
    if (monitor !== false) {
      monitor = monitor || new Monitor({
        pingInterval,
        reconnectStrategy,
        maxMissingPings,
        maxReconnectAttempts,
        logger
      });
    }
    let hubOptions = { concurrentSubscribes };
    let cable = new Cable({
      protocol,
      transport,
      encoder,
      logger,
      lazy,
      hubOptions,
      performFailures,
      transportConfigurator
    });
    if (monitor) {
      monitor.watch(cable);
      cable.monitor = monitor;
    }
    if (tokenRefresher) {
      watchForExpiredToken(cable, async () => {
        try {
          await tokenRefresher(transport);
        } catch (err) {
          logger.error("Failed to refresh authentication token: " + err);
          return false;
        }
        cable.connect().catch(() => {
        });
        return true;
      });
    }
    return cable;
  }
  function watchForExpiredToken(cable, callback) {
    let attempted = false;
    cable.on("connect", () => attempted = false);
    cable.on("close", async (ev) => {
      if (!ev) return;
      if (attempted) {
        cable.logger.warn("Token auto-refresh is disabled", ev);
        return;
      }
      if (ev.reason === "token_expired") {
        attempted = true;
        await callback();
      }
    });
  }

  // node_modules/@anycable/web/logger/index.js
  var Logger = class extends BaseLogger {
    writeLogEntry(level, msg, details) {
      if (details) {
        console[level](msg, details);
      } else {
        console[level](msg);
      }
    }
  };

  // node_modules/@anycable/web/monitor/index.js
  var Monitor2 = class extends Monitor {
    watch(cable) {
      super.watch(cable);
      this.initActivityListeners();
    }
    initActivityListeners() {
      if (typeof document !== "undefined" && typeof window !== "undefined" && document.addEventListener && window.addEventListener) {
        let visibility = () => {
          if (!document.hidden) {
            if (this.reconnectNow()) {
              this.logger.debug("Trigger reconnect due to visibility change");
            }
          }
        };
        let connect = (event) => {
          if (this.reconnectNow()) {
            this.logger.debug("Trigger reconnect", { event });
          }
        };
        let disconnectFrozen = () => this.disconnect(new DisconnectedError("page_frozen"));
        document.addEventListener("visibilitychange", visibility, false);
        window.addEventListener("focus", connect, false);
        window.addEventListener("online", connect, false);
        window.addEventListener("resume", connect, false);
        window.addEventListener("freeze", disconnectFrozen, false);
        this.unbind.push(() => {
          document.removeEventListener("visibilitychange", visibility, false);
          window.removeEventListener("focus", connect, false);
          window.removeEventListener("online", connect, false);
          window.removeEventListener("resume", connect, false);
          window.removeEventListener("freeze", disconnectFrozen, false);
        });
      }
    }
    disconnect(err) {
      if (this.state === "disconnected" || this.state === "closed") return;
      this.logger.info("Disconnecting", { reason: err.message });
      this.cancelReconnect();
      this.stopPolling();
      this.state = "pending_disconnect";
      this.target.disconnected(err);
    }
  };

  // node_modules/@anycable/web/index.js
  var metaPrefixes = ["cable", "action-cable"];
  var defaultUrl = "/cable";
  var fetchMeta = (doc, key) => {
    for (let prefix of metaPrefixes) {
      let element = doc.head.querySelector(`meta[name='${prefix}-${key}']`);
      if (element) {
        return element.getAttribute("content");
      }
    }
  };
  var absoluteWSUrl = (path) => {
    if (path.match(/wss?:\/\//)) return path;
    if (typeof window !== "undefined") {
      let proto = window.location.protocol.replace("http", "ws");
      return `${proto}//${window.location.host}${path}`;
    }
    return path;
  };
  var generateUrlFromDOM = () => {
    if (typeof document !== "undefined" && document.head) {
      let url = fetchMeta(document, "url");
      if (url) {
        return absoluteWSUrl(url);
      }
    }
    return absoluteWSUrl(defaultUrl);
  };
  var historyTimestampFromMeta = () => {
    if (typeof document !== "undefined" && document.head) {
      let value = fetchMeta(document, "history-timestamp");
      if (value) {
        return value | 0;
      }
    }
  };
  var tokenFromMeta = () => {
    if (typeof document !== "undefined" && document.head) {
      return fetchMeta(document, "token");
    }
  };
  var tokenParamFromMeta = () => {
    if (typeof document !== "undefined" && document.head) {
      return fetchMeta(document, "token-param");
    }
  };
  function createCable2(url, opts) {
    if (typeof url === "object" && typeof opts === "undefined") {
      opts = url;
      url = void 0;
    }
    url = url || generateUrlFromDOM();
    opts = opts || {};
    opts.historyTimestamp || (opts.historyTimestamp = historyTimestampFromMeta());
    let token = tokenFromMeta();
    if (token) {
      let param = tokenParamFromMeta();
      opts.auth = Object.assign({ token, param }, opts.auth || {});
    }
    opts = Object.assign({}, DEFAULT_OPTIONS, opts);
    let {
      logLevel,
      logger,
      pingInterval,
      reconnectStrategy,
      maxMissingPings,
      maxReconnectAttempts
    } = opts;
    logger = opts.logger = opts.logger || new Logger(logLevel);
    reconnectStrategy = opts.reconnectStrategy = opts.reconnectStrategy || backoffWithJitter(pingInterval);
    if (opts.monitor !== false) {
      opts.monitor = opts.monitor || new Monitor2({
        pingInterval,
        reconnectStrategy,
        maxMissingPings,
        maxReconnectAttempts,
        logger
      });
    }
    return createCable(url, opts);
  }
  function createConsumer2(url, opts) {
    let cable = createCable2(url, opts);
    return new ActionCableConsumer(cable);
  }
  function fetchTokenFromHTML(opts) {
    let url = opts ? opts.url : void 0;
    if (!url) {
      if (typeof window !== "undefined") {
        url = window.location.href;
      } else {
        throw Error("An URL to fetch the HTML with a token MUST be specified");
      }
    }
    return async (transport) => {
      let response = await fetch(url, {
        credentials: "same-origin",
        cache: "no-cache",
        headers: {
          "Accept": "text/html, application/xhtml+xml",
          "X-ANYCABLE-OPERATION": "token-refresh"
        }
      });
      if (!response.ok) {
        throw Error(
          "Failed to fetch a page to refresh a token: " + response.status
        );
      }
      let html = await response.text();
      let doc = new DOMParser().parseFromString(html, "text/html");
      let newURL = fetchMeta(doc, "url");
      let newToken = fetchMeta(doc, "token");
      let newTokenParam = fetchMeta(doc, "token-param");
      if (newURL || newToken) {
        if (newURL) transport.setURL(newURL);
        if (newToken) transport.setToken(newToken, newTokenParam);
      } else {
        throw Error("Couldn't find a token on the page");
      }
    };
  }
  return __toCommonJS(anycable_web_exports);
})();
