// The review focus view, in the browser: keys are applied here in the order typed, the next
// call shows at once from the prefetched ones, and every action (judge, skip, undo, move,
// comment) is numbered and sent to the server until it is acknowledged (kept in localStorage
// meanwhile, so a reload or a closed tab resends it). Model text and comments are only ever
// set as textContent.

const VERDICTS = { p: "pass", f: "fail", u: "unsure" };
const INVISIBLE = /[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
const SAFE_LINK = /^(https?:\/\/|mailto:)/i;
const RESEND_MS = 1500;
const DIFF_MAX_WORDS = 1500;
const KEYS = [
  ["P / F / U", "verdict: pass, fail, unsure (again clears it)"],
  ["1 … 9", "toggle a label (its key is shown on it)"],
  ["Enter", "submit and go to the next call"],
  ["Ctrl+Enter", "submit from the note or the corrected output"],
  ["K / J", "previous / next call"],
  ["S", "skip the call"],
  ["Z", "undo your last answer (it comes back to edit)"],
  ["N", "write a note"],
  ["C", "write the corrected output"],
  ["O", "comment on the call (Ctrl+Enter posts it, Esc closes the box)"],
  ["Esc", "leave a text field, close this list or the comment box"],
  ["G", "show or hide the guidelines"],
  ["R", "output beside the reference or corrected output, with a word diff"],
  ["M", "show text raw or as Markdown"],
  ["?", "show or hide this list"],
];

const ANSWER_KEYS = /^([pfukjsz]|Enter)$/;
const SCORE_FIELD_KEYS = { v: "numeric", t: "text" };
const views = new WeakMap();

function markInvisible(text) {
  return text.replace(INVISIBLE, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}>`);
}

// --- inert Markdown: DOM nodes with textContent only, links only to http(s)/mailto -----------

function inline(text, parent) {
  const pattern = /(`[^`\n]+`)|(!\[[^\]\n]*\]\([^)\n]*\))|(\[[^\]\n]*\]\([^)\n]*\))|(\*\*[^*\n]+\*\*)|(\*[^*\n]+\*|_[^_\n]+_)/g;
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > last) parent.append(document.createTextNode(text.slice(last, m.index)));
    const token = m[0];
    if (m[1]) parent.append(el("code", { text: token.slice(1, -1) }));
    else if (m[2]) {
      const [, alt, url] = token.match(/^!\[([^\]]*)\]\(([^)]*)\)$/);
      parent.append(document.createTextNode(`[image: ${alt || "untitled"}] `), el("code", { text: url }));
    } else if (m[3]) {
      const [, label, url] = token.match(/^\[([^\]]*)\]\(([^)]*)\)$/);
      const target = url.replace(INVISIBLE, "").trim().replace(/^<|>$/g, "");
      if (SAFE_LINK.test(target)) {
        const a = el("a", { href: target, target: "_blank", rel: "noopener noreferrer nofollow" });
        inline(label, a);
        parent.append(a);
      } else parent.append(document.createTextNode(label));
    } else if (m[4]) { const b = el("strong"); inline(token.slice(2, -2), b); parent.append(b); }
    else { const i = el("em"); inline(token.slice(1, -1), i); parent.append(i); }
    last = m.index + token.length;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

function markdown(text) {
  const root = el("div", { cls: "eb-text eb-md" });
  const lines = text.split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      const body = [];
      i += 1;
      while (i < lines.length && !/^\s*```/.test(lines[i])) { body.push(lines[i]); i += 1; }
      i += 1;
      root.append(el("pre", {}, el("code", { text: body.join("\n") })));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      const h = el(`h${Math.min(heading[1].length + 2, 6)}`);
      inline(heading[2], h);
      root.append(h);
      i += 1;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = el(ordered ? "ol" : "ul");
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
        const li = el("li");
        inline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ""), li);
        list.append(li);
        i += 1;
      }
      root.append(list);
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quote = el("blockquote");
      const body = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) { body.push(lines[i].replace(/^\s*>\s?/, "")); i += 1; }
      inline(body.join(" "), quote);
      root.append(quote);
      continue;
    }
    if (!line.trim()) { i += 1; continue; }
    const body = [];
    while (i < lines.length && lines[i].trim() && !/^\s*(```|#{1,6}\s|>|[-*+]\s|\d+[.)]\s)/.test(lines[i])) {
      body.push(lines[i]);
      i += 1;
    }
    const p = el("p");
    inline(body.join(" "), p);
    root.append(p);
  }
  return root;
}

function textBlock(clip, mode, empty) {
  if (!clip || clip.text === "") return el("p", { cls: "eb-empty", text: empty || "(empty)" });
  const box = mode === "Markdown" ? markdown(clip.text) : el("pre", { cls: "eb-text", text: markInvisible(clip.text) });
  if (clip.length > clip.text.length) {
    return el("div", {}, box, el("p", { cls: "eb-empty",
      text: `Showing the first ${clip.text.length.toLocaleString()} of ${clip.length.toLocaleString()} characters; download the call to see all of it.` }));
  }
  return box;
}

// --- word diff (longest common subsequence of words) -----------------------------------------

function wordDiff(before, after) {
  const a = before.split(/(\s+)/), b = after.split(/(\s+)/);
  if (a.length > DIFF_MAX_WORDS * 2 || b.length > DIFF_MAX_WORDS * 2) return null;
  const n = a.length, m = b.length;
  const table = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      table[i][j] = a[i] === b[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
    }
  }
  const left = el("div", { cls: "eb-text" }), right = el("div", { cls: "eb-text" });
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      left.append(document.createTextNode(a[i])); right.append(document.createTextNode(b[j]));
      i += 1; j += 1;
    } else if (j < m && (i >= n || table[i][j + 1] >= table[i + 1][j])) {
      right.append(el("span", { cls: "eb-ins", text: b[j] })); j += 1;
    } else {
      left.append(el("span", { cls: "eb-del", text: a[i] })); i += 1;
    }
  }
  return [left, right];
}

// --- the view --------------------------------------------------------------------------------

function randomId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (x) => x.toString(16).padStart(2, "0")).join("");
}

class FocusView {
  constructor(root, data, setState) {
    this.root = root;
    this.setState = setState;
    this.q = (selector) => root.querySelector(selector);
    this.sessionId = data.session.id;
    this.storePrefix = `evalboard.review.${data.store}.${this.sessionId}.`;
    this.clientId = randomId();
    this.seq = 0;
    this.outbox = [];
    this.history = [];  // this page's answers, newest last: what Z takes back
    this.handled = new Set();  // outcomes already shown
    this.items = new Map();
    this.drafts = new Map();
    this.mode = data.mode || "Raw";
    this.showGuide = false;
    this.showCompare = false;
    this.shownKey = null;
    this.lastSent = 0;
    this.typedAhead = [];  // keys typed while the current call is still on its way
    this.commentText = new Map();  // position -> a comment being written there
    this.sentComments = new Map();  // "client:seq" -> { position, body } until it is answered
    this.adoptStoredActions();
    this.update(data);
    this.cursor = this.firstUnanswered();
    this.render();
    if (this.outbox.length) this.send();
    this.bind();
  }

  // state from the server ---------------------------------------------------------------------

  update(data) {
    this.data = data;
    this.session = data.session;
    this.labels = data.labels;
    this.score = data.score || null;  // the queue's score configuration, if any
    this.statuses = data.statuses.split("");
    for (const item of data.items) {
      this.items.set(item.position, item);
      const old = this.drafts.get(item.position);
      if (!old || old.fromServer && !this.sameAnswer(old, item.saved)) {
        const fresh = this.draftFrom(item.saved, true);
        if (old) fresh.started = old.started;
        this.drafts.set(item.position, fresh);
      }
    }
    const acks = data.acks || {};
    const before = this.outbox.length;
    this.outbox = this.outbox.filter((a) => !(acks[a.client] >= a.seq));
    if (this.outbox.length !== before) {
      this.persist();
      // actions queued while the server was busy with the earlier ones: send them now (a
      // change made during a run does not always start another one)
      if (this.outbox.length) this.send();
    }
    for (const outcome of data.outcomes || []) this.handleOutcome(outcome);
    this.replayTypedAhead();
  }

  // keys typed before the call they are for arrived: applied to it, in order, once it is here
  replayTypedAhead() {
    while (this.typedAhead.length && this.current()) {
      this.render();
      this.command(this.typedAhead.shift());
    }
  }

  draftFrom(saved, fromServer) {
    return { verdict: saved ? saved.verdict : null, labels: new Set(saved ? saved.labels : []),
      note: saved ? saved.note || "" : "", fix: saved ? saved.fix || "" : "",
      score: this.savedScore(saved), started: performance.now(), fromServer };
  }

  savedScore(saved) {
    const scores = saved && saved.scores;
    return this.score && scores && this.score.name in scores ? scores[this.score.name] : null;
  }

  sameAnswer(draft, saved) {
    const other = this.draftFrom(saved, true);
    return draft.verdict === other.verdict && draft.note === other.note && draft.fix === other.fix &&
      draft.score === other.score &&
      draft.labels.size === other.labels.size && [...draft.labels].every((l) => other.labels.has(l));
  }

  draft(position) {
    if (!this.drafts.has(position)) this.drafts.set(position, this.draftFrom(null, true));
    return this.drafts.get(position);
  }

  handleOutcome(outcome) {
    const id = `${outcome.client}:${outcome.seq}`;
    if (this.handled.has(id) || outcome.client !== this.clientId && !this.adopted?.has(outcome.client)) return;
    this.handled.add(id);
    if (outcome.kind === "comment") { this.commentAnswered(id, outcome); return; }
    if (outcome.error) {
      if (this.awaitingUndo === outcome.seq) this.awaitingUndo = null;
      this.toast(outcome.kind === "undo" ? `Nothing to undo in this session.` : `Not saved${this.place(outcome)}: ${outcome.error}.`, outcome.kind !== "undo");
      if (outcome.kind !== "undo") this.history = this.history.filter((h) => h.seq !== outcome.seq);
      // the refused answer stays as the call's draft, to be corrected and sent again
      if (outcome.kind === "judge" && this.drafts.has(outcome.position)) this.draft(outcome.position).fromServer = false;
      return;
    }
    if (outcome.kind === "undo" && this.awaitingUndo === outcome.seq) {
      this.awaitingUndo = null;
      this.cursor = outcome.position;
      this.drafts.set(outcome.position, this.draftFrom(outcome.restored, false));
      this.toast(`Undone: call ${outcome.position + 1} is back to edit.`);
      this.render();
    }
  }

  place(outcome) {
    return outcome.position === null || outcome.position === undefined ? "" : ` (call ${outcome.position + 1})`;
  }

  // a comment the server posted (it joins the call's thread) or refused (its text comes back)
  commentAnswered(id, outcome) {
    const sent = this.sentComments.get(id);
    this.sentComments.delete(id);
    if (outcome.error) {
      this.toast(`Comment not posted${this.place(outcome)}: ${outcome.error}.`, true);
      if (sent && !this.commentText.get(sent.position)) {
        this.commentText.set(sent.position, sent.body);
        this.q(".eb-comment-form").dataset.for = "";  // shown again in its box
      }
    } else {
      const item = this.items.get(outcome.position);
      if (item && outcome.comment && !item.comments.some((c) => c.id === outcome.comment.id)) {
        item.comments.push(outcome.comment);
      }
    }
    this.renderComments();
  }

  // statuses as the server will have them once every action sent is applied
  effective() {
    const statuses = this.statuses.slice();
    for (const action of this.outbox) {
      if (action.kind === "judge") statuses[action.position] = "d";
      else if (action.kind === "skip") statuses[action.position] = "s";
      else if (action.kind === "undo" && action.target !== null) statuses[action.target] = action.previous || "p";
    }
    return statuses;
  }

  firstUnanswered() {
    const statuses = this.effective();
    const first = statuses.indexOf("p");
    return first >= 0 ? first : Math.min(this.session.position, statuses.length - 1);
  }

  nextPending(statuses, after) {
    for (let p = after + 1; p < statuses.length; p += 1) if (statuses[p] === "p") return p;
    for (let p = 0; p < after; p += 1) if (statuses[p] === "p") return p;
    return null;
  }

  // actions -----------------------------------------------------------------------------------

  queue(action) {
    this.seq += 1;
    const sent = { client: this.clientId, seq: this.seq, ...action };
    this.outbox.push(sent);
    this.persist();
    this.send();
    return sent;
  }

  send() {
    this.lastSent = performance.now();
    this.setState("outbox", { session: this.sessionId, cursor: this.cursor, have: [...this.items.keys()],
      actions: this.outbox.map(({ target, previous, ...rest }) => rest), sent: this.lastSent });
  }

  persist() {
    try {
      const mine = this.outbox;
      if (mine.length) localStorage.setItem(this.storePrefix + this.clientId, JSON.stringify(mine));
      else localStorage.removeItem(this.storePrefix + this.clientId);
    } catch (e) { /* storage full or disabled: the page still sends, it just cannot resend after a reload */ }
  }

  adoptStoredActions() {
    this.adopted = new Set();
    try {
      const keys = [];
      for (let i = 0; i < localStorage.length; i += 1) {
        const key = localStorage.key(i);
        if (key && key.startsWith(this.storePrefix)) keys.push(key);
      }
      for (const key of keys) {
        const actions = JSON.parse(localStorage.getItem(key) || "[]");
        for (const action of actions) { this.outbox.push(action); this.adopted.add(action.client); }
        localStorage.removeItem(key);
      }
    } catch (e) { /* nothing stored, or unreadable */ }
    this.persist();
  }

  current() { return this.items.get(this.cursor); }

  readFields() {
    const d = this.draft(this.cursor);
    d.note = this.q(".eb-note").value;
    d.fix = this.q(".eb-fix").value;
    const field = this.q(".eb-score-field");
    if (field) d.score = this.fieldScore(field.value);
  }

  // a number field's or a text field's score (null when it is empty)
  fieldScore(value) {
    if (this.score.kind === "text") return value === "" ? null : value;
    const number = value.trim() === "" ? NaN : Number(value);
    return Number.isFinite(number) ? number : null;
  }

  hasScore(d) {
    return this.score !== null && d.score !== null && d.score !== undefined &&
      !(typeof d.score === "string" && !d.score.trim());
  }

  submit() {
    const item = this.current();
    if (!item) return;
    this.readFields();
    const d = this.draft(this.cursor);
    const scored = this.hasScore(d);
    if (!d.verdict && !d.labels.size && !d.note.trim() && !d.fix.trim() && !scored) {
      this.toast(`Not saved: choose a verdict${this.score ? `, a label or a ${this.score.name} score` : " or a label"}, or write a note.`, true);
      return;
    }
    const order = this.labels.map((l) => l.name);
    const labels = order.filter((name) => d.labels.has(name));
    const previous = this.effective()[this.cursor];
    const action = this.queue({ kind: "judge", position: this.cursor, call: item.call_id, verdict: d.verdict,
      labels, note: d.note, fix: d.fix, scores: scored ? { [this.score.name]: d.score } : {},
      seconds: Math.round((performance.now() - d.started) / 100) / 10 });
    this.history.push({ seq: action.seq, position: this.cursor, previous, draft: { ...d, labels: new Set(d.labels) } });
    const shown = scored && this.score.kind !== "text" ? `, ${this.score.name} ${d.score}` : "";
    this.toast(`Saved call ${this.cursor + 1} (${d.verdict || "no verdict"}${shown}). Z undoes it.`);
    this.advance(this.cursor);
  }

  skip() {
    const item = this.current();
    if (!item) return;
    this.readFields();
    const previous = this.effective()[this.cursor];
    const action = this.queue({ kind: "skip", position: this.cursor, call: item.call_id });
    this.history.push({ seq: action.seq, position: this.cursor, previous, draft: null });
    this.toast(`Skipped call ${this.cursor + 1}. Z undoes it.`);
    this.advance(this.cursor);
  }

  advance(from) {
    const statuses = this.effective();
    const next = this.nextPending(statuses, from);
    this.draft(from).fromServer = true;  // what the server stores next replaces it
    this.cursor = next === null ? Math.min(from + 1, statuses.length - 1) : next;
    this.draft(this.cursor).started = performance.now();
    this.render();
  }

  undo() {
    this.readFields();
    const last = this.history.pop();
    if (!last) {
      const action = this.queue({ kind: "undo", target: null });
      this.awaitingUndo = action.seq;
      this.toast("Undoing your last answer…");
      return;
    }
    this.queue({ kind: "undo", target: last.position, previous: last.previous });
    this.cursor = last.position;
    this.drafts.set(last.position, last.draft ? { ...last.draft, started: performance.now(), fromServer: false }
      : this.draftFrom(null, false));
    this.toast(`Undone: call ${last.position + 1} is back to edit.`);
    this.render();
  }

  move(delta) {
    const target = this.cursor + delta;
    if (target < 0 || target >= this.statuses.length) return;
    this.readFields();
    this.cursor = target;
    const item = this.items.get(target);
    this.queue({ kind: "move", position: target, call: item ? item.call_id : null });
    this.render();
  }

  setVerdict(verdict) {
    const d = this.draft(this.cursor);
    d.verdict = d.verdict === verdict ? null : verdict;
    d.fromServer = false;
    this.renderAnswer();
  }

  toggleLabel(name) {
    const d = this.draft(this.cursor);
    if (d.labels.has(name)) d.labels.delete(name); else d.labels.add(name);
    d.fromServer = false;
    this.renderAnswer();
  }

  // scores: a rating's numbers or a choice's options, each with a digit key (0 for the tenth)

  scoreValues() {
    if (!this.score) return [];
    if (this.score.kind === "rating") return Array.from({ length: Math.round(this.score.maximum || 5) }, (_, i) => i + 1);
    return this.score.kind === "choice" ? this.score.choices : [];
  }

  scoreKey(index) { return index < 9 ? String(index + 1) : index === 9 ? "0" : ""; }

  // the score a digit key gives while a rating or a choice is shown (-1: none)
  scoreIndex(key) {
    if (!/^[0-9]$/.test(key)) return -1;
    const index = key === "0" ? 9 : Number(key) - 1;
    return index < this.scoreValues().length ? index : -1;
  }

  setScore(value) {
    const d = this.draft(this.cursor);
    d.score = d.score === value ? null : value;
    d.fromServer = false;
    this.renderAnswer();
  }

  focusScoreField(key) {
    const field = this.q(".eb-score-field");
    if (!field || !this.score || this.score.kind !== SCORE_FIELD_KEYS[key]) return false;
    field.focus();
    return true;
  }

  // comments: one box, holding the text written for each call until it is posted

  openComment() {
    if (!this.current()) return false;
    this.renderComments();
    this.q(".eb-comment-form").hidden = false;
    this.q(".eb-comment-box").focus();
    return true;
  }

  closeComment() {
    const box = this.q(".eb-comment-box");
    box.blur();
    this.q(".eb-comment-form").hidden = true;
  }

  postComment() {
    const item = this.current();
    const box = this.q(".eb-comment-box");
    if (!item) return;
    if (!box.value.trim()) { this.toast("Not posted: write something first.", true); return; }
    const body = box.value;
    const action = this.queue({ kind: "comment", position: this.cursor, call: item.call_id, body });
    this.sentComments.set(`${action.client}:${action.seq}`, { position: this.cursor, body });
    this.commentText.delete(this.cursor);
    box.value = "";
    this.closeComment();
    this.toast(`Comment posted on call ${this.cursor + 1}.`);
    this.renderComments();
  }

  // keys --------------------------------------------------------------------------------------

  bind() {
    this.onKey = (event) => this.key(event);
    document.addEventListener("keydown", this.onKey, true);
    this.onClick = (event) => this.click(event);
    this.root.addEventListener("click", this.onClick);
    this.onInput = (event) => {
      if (event.target.classList.contains("eb-comment-box")) { this.commentText.set(this.cursor, event.target.value); return; }
      const d = this.draft(this.cursor);
      d.fromServer = false;
      this.readFields();
      this.renderScore(d);
    };
    this.root.addEventListener("input", this.onInput);
    this.timer = setInterval(() => {
      if (this.outbox.length && performance.now() - this.lastSent > RESEND_MS) this.send();
    }, 1000);
  }

  unbind() {
    document.removeEventListener("keydown", this.onKey, true);
    this.root.removeEventListener("click", this.onClick);
    this.root.removeEventListener("input", this.onInput);
    clearInterval(this.timer);
  }

  key(event) {
    if (!this.root.isConnected) { this.unbind(); return; }
    const target = event.composedPath()[0];
    const inField = target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" ||
      target.tagName === "SELECT" || target.isContentEditable);
    const ours = inField && this.root.contains(target);
    if (inField && !ours) return;  // the sidebar's fields and the like are not ours
    if (ours) {
      const comment = target.classList.contains("eb-comment-box");
      const enter = event.key === "Enter" && (event.ctrlKey || event.metaKey || target.tagName === "INPUT");
      if (event.key !== "Escape" && !enter) return;
      event.preventDefault(); event.stopPropagation();
      if (comment) { if (enter) this.postComment(); else this.closeComment(); return; }
      target.blur();
      if (enter) this.submit();  // Ctrl+Enter from a text field, Enter from the number field
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    // a key on another control of the page (a button, a link, the menu) is that control's
    if (target && target !== document.body && target !== document.documentElement &&
        !this.root.contains(target)) return;
    if (document.querySelector("[role=dialog]:not([hidden])") && !this.helpOpen()) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (this.helpOpen() && key !== "?" && key !== "Escape") return;
    const handled = !this.current() && this.typedAhead.length < 200 &&
      (ANSWER_KEYS.test(key) || this.scoreIndex(key) >= 0 || this.labels.some((l) => l.key === key))
      ? (this.typedAhead.push(key), true) : this.command(key);
    if (handled) { event.preventDefault(); event.stopPropagation(); }
  }

  command(key) {
    if (key === "?") { this.toggleHelp(); return true; }
    if (key === "Escape") { if (this.helpOpen()) { this.toggleHelp(); return true; } return false; }
    if (VERDICTS[key]) { this.setVerdict(VERDICTS[key]); return true; }
    const scored = this.scoreIndex(key);  // a digit rates while a rating is shown, not a label
    if (scored >= 0) { this.setScore(this.scoreValues()[scored]); return true; }
    const label = this.labels.find((l) => l.key && l.key === key);
    if (label) { this.toggleLabel(label.name); return true; }
    switch (key) {
      case "Enter": this.submit(); return true;
      case "k": this.move(-1); return true;
      case "j": this.move(1); return true;
      case "s": this.skip(); return true;
      case "z": this.undo(); return true;
      case "n": this.q(".eb-note").focus(); return true;
      case "c": this.q(".eb-fix").focus(); return true;
      case "g": this.showGuide = !this.showGuide; this.renderGuidelines(); return true;
      case "r": this.showCompare = !this.showCompare; this.renderCall(true); return true;
      case "m": this.setMode(this.mode === "Raw" ? "Markdown" : "Raw"); return true;
      case "o": return this.openComment();
      case "v": case "t": return this.focusScoreField(key);
      default: return false;
    }
  }

  click(event) {
    const button = event.target.closest("button");
    if (!button || !this.root.contains(button)) return;
    if (button.dataset.verdict) this.setVerdict(button.dataset.verdict);
    else if (button.dataset.label) this.toggleLabel(button.dataset.label);
    else if (button.dataset.score) this.setScore(this.scoreValues()[Number(button.dataset.score)]);
    else if (button.dataset.mode) this.setMode(button.dataset.mode);
    else if (button.dataset.act) {
      const act = button.dataset.act;
      if (act === "submit") this.submit();
      else if (act === "prev") this.move(-1);
      else if (act === "next") this.move(1);
      else if (act === "skip") this.skip();
      else if (act === "undo") this.undo();
      else if (act === "help") this.toggleHelp();
      else if (act === "guidelines") { this.showGuide = !this.showGuide; this.renderGuidelines(); }
      else if (act === "compare") { this.showCompare = !this.showCompare; this.renderCall(true); }
      else if (act === "comment") { button.blur(); this.openComment(); return; }
      else if (act === "post") this.postComment();
      else if (act === "close-comment") this.closeComment();
    }
    button.blur();
  }

  setMode(mode) { this.mode = mode; this.setState("mode", mode); this.renderCall(true); this.renderMode(); }

  helpOpen() { return !this.q(".eb-overlay").hidden; }

  toggleHelp() {
    const overlay = this.q(".eb-overlay");
    overlay.hidden = !overlay.hidden;
  }

  toast(text, warn = false) {
    const box = this.q(".eb-toast");
    box.textContent = text;
    box.classList.toggle("eb-warn", warn);
    box.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { box.hidden = true; }, warn ? 8000 : 4000);
  }

  // rendering ---------------------------------------------------------------------------------

  render() {
    this.renderProgress();
    this.renderCall(false);
    this.renderAnswer();
    this.renderGuidelines();
    this.renderMode();
    this.renderComments();
    this.renderHelp();
  }

  renderProgress() {
    const statuses = this.effective();
    const done = statuses.filter((s) => s === "d").length;
    const skipped = statuses.filter((s) => s === "s").length;
    const size = statuses.length;
    this.q(".eb-progress-bar").style.width = `${size ? ((done + skipped) / size) * 100 : 0}%`;
    this.q(".eb-progress").setAttribute("aria-valuenow", String(size ? Math.round(((done + skipped) / size) * 100) : 0));
    this.q(".eb-progress-text").textContent = `Call ${this.cursor + 1} of ${size} · ${done} reviewed · ${skipped} skipped`;
    const pending = this.q(".eb-pending");
    const waiting = this.outbox.length;
    pending.hidden = waiting === 0;
    pending.textContent = waiting ? `${waiting} answer${waiting === 1 ? "" : "s"} waiting for the server` : "";
    const banner = this.q(".eb-banner");
    const finished = statuses.length > 0 && !statuses.includes("p");
    banner.hidden = !finished;
    banner.textContent = finished ? "Session finished: every call is reviewed or skipped. Start another from “New session”, or step back with Prev (K) to change an answer." : "";
  }

  renderMode() {
    for (const button of this.root.querySelectorAll("[data-mode]")) {
      button.setAttribute("aria-pressed", String(button.dataset.mode === this.mode));
    }
  }

  renderCall(force) {
    const item = this.current();
    const key = item ? `${item.position}:${item.call_id}:${this.mode}:${this.showCompare}:${item.call ? 1 : 0}` : `loading:${this.cursor}`;
    if (!force && key === this.shownKey) return;
    this.shownKey = key;
    const panel = this.q(".eb-call");
    panel.replaceChildren();
    if (!item) {
      panel.append(el("p", { cls: "eb-empty", text: `Loading call ${this.cursor + 1}…` }));
      return;
    }
    panel.dataset.callId = String(item.call_id);
    const call = item.call;
    if (!call) {
      panel.append(el("p", { cls: "eb-error", text: `Call ${item.call_id} is no longer in the store; skip it (S).` }));
      return;
    }
    const latency = call.latency_ms === null || call.latency_ms === undefined ? "" : ` · ${Math.round(call.latency_ms).toLocaleString()} ms`;
    panel.append(el("p", { cls: "eb-caption", "data-testid": "reviewCallCaption",
      text: `Call ${call.id} · ${call.version} · ${call.source} · ${call.created} UTC${latency}` }));
    if (call.error) panel.append(el("p", { cls: "eb-error", text: `The call failed: ${call.error}` }));
    panel.append(el("h4", { text: "Input" }));
    const input = el("div", { cls: "eb-input-box", "data-testid": "reviewInput" });
    if (call.messages && call.messages.length) {
      for (const message of call.messages) {
        const role = message.role || "user";
        const turn = el("div", { cls: `eb-turn eb-${role === "assistant" || role === "user" ? role : "system"}` },
          el("div", { cls: "eb-role", text: role }), textBlock(message.content, this.mode));
        const long = message.content && message.content.text.length > 300;
        if (role === "system" && long) {
          const details = el("details", {}, el("summary", { text: `system prompt (${message.content.length.toLocaleString()} characters)` }), turn);
          input.append(details);
        } else input.append(turn);
      }
    } else input.append(textBlock(call.input, this.mode));
    panel.append(input);
    const own = this.draft(this.cursor).fix;
    const other = item.corrected || item.reference || (own ? { text: own, length: own.length } : null);
    const otherName = item.corrected || !item.reference && own ? "Corrected output" : "Reference output";
    const head = el("div", { cls: "eb-row" }, el("h4", { text: "Output" }));
    if (other) {
      head.append(el("button", { type: "button", "data-act": "compare", "aria-pressed": String(this.showCompare),
        text: `${this.showCompare ? "Hide" : "Beside the"} ${otherName.toLowerCase()} (R)` }));
    }
    panel.append(head);
    if (other && this.showCompare) {
      const diff = wordDiff(call.output ? call.output.text : "", other.text);
      const [left, right] = diff || [textBlock(call.output, "Raw", "(no output)"), textBlock(other, "Raw")];
      panel.append(el("div", { cls: "eb-compare", "data-testid": "reviewCompare" },
        el("div", {}, el("div", { cls: "eb-role", text: "model output" }), left),
        el("div", {}, el("div", { cls: "eb-role", text: otherName }), right)));
    } else {
      panel.append(el("div", { cls: "eb-output-box", "data-testid": "reviewOutput" }, textBlock(call.output, this.mode, "(no output)")));
    }
    if (call.meta && Object.keys(call.meta).length) {
      panel.append(el("details", {}, el("summary", { text: "Metadata" }),
        el("pre", { cls: "eb-text", text: JSON.stringify(call.meta, null, 2) })));
    }
  }

  renderAnswer() {
    const item = this.current();
    const d = this.draft(this.cursor);
    for (const button of this.root.querySelectorAll("[data-verdict]")) {
      button.setAttribute("aria-pressed", String(d.verdict === button.dataset.verdict));
    }
    this.renderScore(d);
    const box = this.q(".eb-labels");
    const signature = this.labels.map((l) => `${l.name}|${l.key}|${l.kind}`).join(";") + `#${this.scoreValues().length}`;
    if (box.dataset.signature !== signature) {
      box.dataset.signature = signature;
      box.replaceChildren();
      for (const [kind, title] of [["failure", "Failure modes"], ["success", "Success modes"]]) {
        const group = this.labels.filter((l) => l.kind === kind);
        if (!group.length) continue;
        const row = el("div", { cls: "eb-row" });
        for (const label of group) {
          // a digit the score takes is not this label's key while the score is shown
          const key = label.key && this.scoreIndex(label.key) < 0 ? label.key : "";
          const title = [label.description, label.key && !key ? `(key ${label.key} gives the ${this.score.name} score here)` : ""];
          row.append(el("button", { type: "button", "data-label": label.name, title: title.filter(Boolean).join(" ") || null,
            "aria-pressed": "false" }, label.name, key ? el("kbd", { text: key.toUpperCase() }) : null));
        }
        box.append(el("h4", { text: title }), row);
      }
    }
    for (const button of box.querySelectorAll("[data-label]")) {
      button.setAttribute("aria-pressed", String(d.labels.has(button.dataset.label)));
    }
    const note = this.q(".eb-note"), fix = this.q(".eb-fix"), field = this.q(".eb-score-field");
    if (this.fieldsDraft !== d) {  // another call, or its answer came back: show its text
      note.value = d.note;
      fix.value = d.fix;
      if (field) field.value = d.score === null || d.score === undefined ? "" : String(d.score);
      this.fieldsDraft = d;
      this.renderScore(d);
    }
    const status = this.effective()[this.cursor];
    const statusNote = this.q(".eb-status-note");
    statusNote.hidden = !item || status === "p";
    statusNote.textContent = status === "s" ? "You skipped this call; submitting again replaces your answer."
      : "You reviewed this call; submitting again replaces your answer.";
    this.q("[data-act=prev]").disabled = this.cursor <= 0;
    this.q("[data-act=next]").disabled = this.cursor >= this.statuses.length - 1;
    const promote = this.q(".eb-promote");
    if (item) promote.setAttribute("href", `${this.data.promote}${item.call_id}`);
    promote.hidden = !item;
    this.renderSuggestions(item);
  }

  // the score control: built once per configuration, its chosen value shown pressed or outlined
  renderScore(d) {
    const box = this.q(".eb-score");
    box.hidden = !this.score;
    if (!this.score) { box.replaceChildren(); box.dataset.signature = ""; return; }
    const signature = JSON.stringify(this.score);
    if (box.dataset.signature !== signature) {
      box.dataset.signature = signature;
      box.replaceChildren(this.scoreControl());
      this.fieldsDraft = null;  // a new field: fill it from the draft
    }
    const values = this.scoreValues();
    for (const button of box.querySelectorAll("[data-score]")) {
      button.setAttribute("aria-pressed", String(d.score !== null && values[Number(button.dataset.score)] === d.score));
    }
    const field = box.querySelector(".eb-score-field");
    if (field) field.classList.toggle("eb-scored", this.hasScore(d));
  }

  scoreControl() {
    const score = this.score;
    const head = el("h4", { title: score.description || null }, score.name,
      el("span", { cls: "eb-score-about", text: ` · ${score.describe}` }));
    if (score.kind === "rating" || score.kind === "choice") {
      const row = el("div", { cls: "eb-row", role: "group", "aria-label": score.name });
      this.scoreValues().forEach((value, i) => {
        const key = this.scoreKey(i);
        row.append(el("button", { type: "button", "data-score": i, "aria-pressed": "false",
          title: key ? `${score.name}: ${value} (key ${key})` : null },
        String(value), score.kind === "choice" && key ? el("kbd", { text: key }) : null));
      });
      return el("div", {}, head, row);
    }
    const numeric = score.kind === "numeric";
    const field = numeric
      ? el("input", { type: "number", cls: "eb-score-field", min: score.minimum, max: score.maximum, step: "any",
        "aria-label": score.name, placeholder: `${score.describe} (Enter submits, Esc leaves the field)` })
      : el("textarea", { cls: "eb-score-field", rows: 2, "aria-label": score.name,
        placeholder: "Esc leaves the field, Ctrl+Enter submits" });
    return el("div", {}, head, el("label", { cls: "eb-field" }, `Your ${score.name} `,
      el("kbd", { text: numeric ? "V" : "T" }), field));
  }

  renderComments() {
    const item = this.current();
    const section = this.q(".eb-comments");
    section.hidden = !item || !item.call;
    if (section.hidden) return;
    const sending = this.outbox.filter((a) => a.kind === "comment" && a.call === item.call_id)
      .map((a) => ({ key: `${a.client}:${a.seq}`, author: this.session.reviewer, body: a.body, created: null }));
    const shown = [...(item.comments || []), ...sending];
    const thread = this.q(".eb-thread");
    const signature = `${item.position}|${shown.map((c) => c.id || c.key).join(",")}`;
    if (thread.dataset.signature !== signature) {
      thread.dataset.signature = signature;
      thread.replaceChildren(...(shown.length ? shown.map((c) => el("div", {
        cls: `eb-comment${c.created ? "" : " eb-sending"}`, "data-testid": "reviewComment" },
      el("p", { cls: "eb-caption" }, el("strong", { text: c.author }), ` · ${c.created ? `${c.created} UTC` : "sending…"}`),
      el("div", { cls: "eb-comment-body", text: markInvisible(c.body) })))
        : [el("p", { cls: "eb-empty", text: "No comments yet: O writes one." })]));
    }
    const form = this.q(".eb-comment-form");
    if (form.dataset.for !== String(item.position)) {  // another call: its own comment text
      form.dataset.for = String(item.position);
      const box = this.q(".eb-comment-box");
      box.value = this.commentText.get(item.position) || "";
      form.hidden = !box.value;
    }
  }

  renderSuggestions(item) {
    const box = this.q(".eb-suggestions");
    const suggestions = item ? item.suggestions : [];
    box.hidden = !suggestions.length;
    if (box.dataset.for === String(item ? item.position : "")) return;
    box.dataset.for = String(item ? item.position : "");
    box.replaceChildren();
    if (!suggestions.length) return;
    const labels = [...new Set(suggestions.map((s) => s.suggested).filter(Boolean))].sort();
    box.append(el("strong", { text: "Automatic checks" }), ` (suggestions only)${labels.length ? `: consider ${labels.join(", ")}` : ""}`);
    for (const s of suggestions) {
      const detail = s.failed.length ? ` — ${s.failed.join("; ")}` : "";
      box.append(el("div", { cls: "eb-caption", text: `${s.status.toUpperCase()} · ${s.kind || "case"} “${s.case}” (${s.label ? `${s.mode}, ${s.label}` : s.mode})${detail}` }));
    }
  }

  renderGuidelines() {
    const box = this.q(".eb-guidelines");
    const toggle = this.q("[data-act=guidelines]");
    toggle.setAttribute("aria-expanded", String(this.showGuide));
    box.hidden = !this.showGuide;
    if (!this.showGuide) return;
    const text = this.data.guidelines || "";
    box.replaceChildren(text ? markdown(text) : el("p", { cls: "eb-empty", text: "No guidelines yet: write them in Settings." }));
  }

  renderHelp() {
    const signature = JSON.stringify(this.score);
    if (this.helpSignature === signature) return;
    this.helpSignature = signature;
    const table = this.q(".eb-keys");
    table.replaceChildren(...this.helpRows().map(([keys, what]) => el("tr", {}, el("td", {}, el("kbd", { text: keys })), el("td", { text: what }))));
  }

  helpRows() {
    const score = this.score;
    if (!score) return KEYS;
    const values = this.scoreValues();
    const digits = values.length <= 9 ? `1 … ${values.length}` : "1 … 9, 0";
    const taken = " (while it is shown, a digit gives the score, not a label)";
    const keyed = values.slice(0, 10).map((value, i) => `${this.scoreKey(i)} ${value}`).join(", ");
    const row = {
      rating: [digits, `rate ${score.name} (${score.describe})${taken}`],
      choice: [digits, `${score.name}: ${keyed}${taken}`],
      numeric: ["V", `type ${score.name} (${score.describe}); Enter submits, Esc leaves the field`],
      text: ["T", `write ${score.name}; Ctrl+Enter submits, Esc leaves the field`],
    }[score.kind];
    return row ? [...KEYS.slice(0, 2), row, ...KEYS.slice(2)] : KEYS;
  }
}

export default function (component) {
  const { parentElement, setStateValue } = component;
  const data = typeof component.data === "string" ? JSON.parse(component.data) : component.data;
  const root = parentElement.querySelector(".eb-focus");
  if (!root || !data || !data.session) return undefined;
  let view = views.get(root);
  if (!view || view.sessionId !== data.session.id) {
    if (view) view.unbind();
    view = new FocusView(root, data, (name, value) => setStateValue(name, value));
    views.set(root, view);
  } else {
    view.setState = (name, value) => setStateValue(name, value);
    view.update(data);
    view.render();
  }
  window.evalboardReview = view;  // for the tests and the bench: read-only use
  return () => {
    if (!root.isConnected) { view.unbind(); views.delete(root); }
  };
}
