// The review page: keyboard-first triage of one label at a time. No build step, no framework.
"use strict";

const TOKEN = document.querySelector('meta[name="review-token"]').content;
const PAGE = 240; // cards added at a time; more come as the user scrolls, so 10,000 images stay responsive
const SECTIONS = {conflict: "label conflicts", duplicates: "duplicates", corrupt: "corrupt or unreadable",
                  tiny: "tiny", other: "other flags", suspect: "suspects: mislabeled or off-topic", rest: "everything else"};

let state = null;
let labelIndex = 0;
let selected = 0;
let rendered = 0;
let cards = [];          // card elements by index in the label, so selection never searches the page
let selectedCard = null;
let hideRejected = false;
let showAll = new URLSearchParams(location.search).get("all") === "1";
const undoStack = [];
// Decisions run one after another, in key order: an undo pressed while a reject is still being
// saved must undo that reject, not the one before it.
let pending = Promise.resolve();
function inOrder(action) {
  pending = pending.then(action).catch(() => {});
  return pending;
}
const reviewedQueue = new Set();

const $ = (id) => document.getElementById(id);
const grid = $("grid");

function imagesOfLabel() {
  const label = state.labels[labelIndex];
  return label ? label.images.filter((img) => !(hideRejected && img.rejected)) : [];
}

function urlFor(kind, path) {
  return `/${kind}/` + path.split("/").map(encodeURIComponent).join("/");
}

async function load() {
  const response = await fetch("/api/state" + (showAll ? "?all=1" : ""));
  state = await response.json();
  labelIndex = Math.min(labelIndex, Math.max(0, state.labels.length - 1));
  renderLabels();
  renderGrid();
}

function renderLabels() {
  const aside = $("labels");
  aside.replaceChildren();
  state.labels.forEach((label, i) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.label = label.name;
    button.className = i === labelIndex ? "current" : "";
    button.textContent = label.name;
    const counts = document.createElement("span");
    counts.className = "counts";
    counts.textContent = `${label.count} images, ${label.flagged} flagged, ${label.rejected} rejected` +
      (state.mode === "new" ? `, ${label.shown} new` : "");
    button.append(counts);
    button.addEventListener("click", () => selectLabel(i));
    aside.append(button);
  });
  $("mode").textContent = state.mode === "new"
    ? `showing the ${state.new} images new since the last review (a: all ${state.total})`
    : `showing all ${state.total} images`;
  $("toggle-all").textContent = state.mode === "new" ? "show all" : "show new only";
}

function renderGrid() {
  grid.replaceChildren();
  cards = [];
  selectedCard = null;
  rendered = 0;
  selected = 0;
  const label = state.labels[labelIndex];
  $("title").textContent = label ? label.name : "(no labels)";
  renderMore();
  markSelected();
}

function renderMore() {
  const images = imagesOfLabel();
  const end = Math.min(images.length, rendered + PAGE);
  let previous = rendered > 0 ? images[rendered - 1].section : null;
  for (let i = rendered; i < end; i++) {
    const img = images[i];
    if (img.section !== previous) {
      const heading = document.createElement("h3");
      heading.className = "section";
      heading.textContent = SECTIONS[img.section] || img.section;
      grid.append(heading);
      previous = img.section;
    }
    cards[i] = card(img, i);
    grid.append(cards[i]);
  }
  rendered = end;
}

function card(img, index) {
  const div = document.createElement("div");
  div.className = "card" + (img.group ? " grouped" : "") + (img.rejected ? " rejected" : "");
  div.dataset.index = index;
  div.dataset.path = img.path;
  if (img.ok) {
    const picture = document.createElement("img");
    picture.loading = "lazy";
    picture.src = urlFor("thumb", img.path);
    picture.alt = img.path;
    div.append(picture);
  } else {
    const broken = document.createElement("div");
    broken.className = "broken";
    broken.textContent = "cannot be shown";
    div.append(broken);
  }
  const name = document.createElement("div");
  name.className = "name";
  name.textContent = img.path.split("/").slice(1).join("/");
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = img.ok ? `${img.width}x${img.height}, ${Math.round(img.bytes / 1024)} KB` : `${Math.round(img.bytes / 1024)} KB`;
  div.append(name, meta);
  const badges = document.createElement("div");
  for (const flag of img.flags) badges.append(badge(flag, ""));
  if (img.group && img.keep === img.path) badges.append(badge("kept copy", "keep"));
  if (img.suspect) {
    badges.append(badge(img.suspect.kind === "mislabeled" ? `mislabeled? looks like ${img.suspect.looks_like}` : "off-topic?", "suspect"));
    const seen = img.suspect.imagenet.join(", ");
    if (seen) badges.append(badge(img.suspect.kind === "off-topic" ? `looks like: ${seen}` : `ImageNet: ${seen}`, "hint"));
    const reason = document.createElement("div");
    reason.className = "suspect-reason";
    reason.textContent = img.suspect.reason;
    badges.append(reason);
  }
  if (img.movedTo) {
    div.classList.add("moved");
    badges.append(badge(`moved to ${img.movedTo.split("/")[0]}`, "moved"));
  }
  if (img.movedFrom) badges.append(badge(`moved here from ${img.movedFrom.split("/")[0]}`, "moved"));
  if (img.new && state.mode === "all") badges.append(badge("new", "new"));
  if (img.rejected && img.reason) badges.append(badge(`rejected: ${img.reason}`, ""));
  div.append(badges);
  div.addEventListener("click", () => { selected = index; markSelected(); });
  div.addEventListener("dblclick", () => { selected = index; openViewer(); });
  seenObserver.observe(div);
  return div;
}

function badge(text, kind) {
  const span = document.createElement("span");
  span.className = "badge " + kind;
  span.textContent = text;
  return span;
}

function cardAt(index) {
  return cards[index];
}

function markSelected() {
  if (selectedCard) selectedCard.classList.remove("selected");
  const images = imagesOfLabel();
  if (!images.length) return;
  selected = Math.max(0, Math.min(selected, images.length - 1));
  while (selected >= rendered) renderMore();
  selectedCard = cardAt(selected);
  selectedCard.classList.add("selected");
  selectedCard.scrollIntoView({block: "nearest"});
}

function columns() {
  // Cards in the selected card's row: look only around it, so a page of 10,000 cards stays quick.
  const current = cardAt(selected);
  if (!current) return 1;
  const top = current.offsetTop;
  let count = 1;
  for (let c = current.previousElementSibling; c && c.classList.contains("card") && c.offsetTop === top; c = c.previousElementSibling) count++;
  for (let c = current.nextElementSibling; c && c.classList.contains("card") && c.offsetTop === top; c = c.nextElementSibling) count++;
  return count;
}

function selectLabel(i) {
  if (!state.labels.length) return;
  labelIndex = (i + state.labels.length) % state.labels.length;
  renderLabels();
  renderGrid();
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-Review-Token": TOKEN},
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    toast(`could not save: ${(await response.text()).trim()}`, true);
    throw new Error(response.statusText);
  }
  return response.json();
}

async function decide(img, action, reason) {
  await post(`/api/${action}`, {paths: [img.path], reason});
  img.rejected = action === "reject";
  img.reason = img.rejected ? reason : "";
  const label = state.labels[labelIndex];
  label.rejected += img.rejected ? 1 : -1;
  renderLabels();
  const index = cards.findIndex((c) => c && c.dataset.path === img.path);
  if (index >= 0) {
    const fresh = card(img, index);
    if (cards[index] === selectedCard) selectedCard = null;
    cards[index].replaceWith(fresh);
    cards[index] = fresh;
  }
  markSelected();
  toast(`${img.rejected ? "rejected" : "restored"} ${img.path}; saved to rejects.txt`);
}

async function reject(img, reason) {
  if (!img || img.rejected) return;
  if (img.movedTo) { toast(`${img.path} was moved to ${img.movedTo}; reject it there`, true); return; }
  await decide(img, "reject", reason);
  undoStack.push({kind: "reject", img});
}

function labelNamed(name) {
  let label = state.labels.find((l) => l.name === name);
  if (!label) {  // a new label: its folder was just created
    label = {name, count: 0, flagged: 0, rejected: 0, shown: 0, images: []};
    state.labels.push(label);
    state.labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  return label;
}

function redraw(img, shownAs = img.path) {
  const index = cards.findIndex((c) => c && c.dataset.path === shownAs);
  if (index >= 0) {
    const fresh = card(img, index);
    if (cards[index] === selectedCard) selectedCard = null;
    cards[index].replaceWith(fresh);
    cards[index] = fresh;
  }
  const current = state.labels[labelIndex];
  labelIndex = Math.max(0, state.labels.indexOf(current));
  renderLabels();
  markSelected();
}

async function moveTo(img, target) {
  if (!img || !target) return;
  if (img.movedTo) { toast(`${img.path} was already moved to ${img.movedTo}`, true); return; }
  const from = state.labels[labelIndex];
  if (target === from.name) { toast(`${img.path} is in ${target} already`, true); return; }
  const answer = await post("/api/move", {paths: [img.path], to: target, reason: img.suspect ? img.suspect.reason : ""});
  const now = answer.moved[img.path];
  if (!now) { toast(`${img.path} is no longer there`, true); return; }
  const copy = {...img, path: now, suspect: null, section: "rest", movedFrom: img.path, movedTo: null};
  const label = labelNamed(target);
  label.images.push(copy);
  label.count += 1; label.shown += 1;
  from.count -= 1;
  img.movedTo = now;
  redraw(img);
  undoStack.push({kind: "move", img, copy, label});
  toast(`moved ${img.path} to ${now}; u undoes it`);
}

async function undoMove(entry) {
  const answer = await post("/api/unmove", {paths: [entry.copy.path]});
  const back = answer.moved[entry.copy.path];
  entry.label.images = entry.label.images.filter((i) => i !== entry.copy);
  entry.label.count -= 1; entry.label.shown -= 1;
  const from = state.labels.find((l) => l.images.includes(entry.img));
  if (from) from.count += 1;
  const shownAs = entry.img.path;
  entry.img.movedTo = null;
  entry.img.path = back;
  redraw(entry.img, shownAs);
  toast(`moved ${entry.copy.path} back to ${back}`);
}

async function undo() {
  const entry = undoStack.pop();
  if (!entry) return;
  if (entry.kind === "move") await undoMove(entry);
  else await decide(entry.img, "unreject", "");
}

function askMove() {
  const img = imagesOfLabel()[selected];
  if (!img) return;
  const options = $("movelabels");
  options.replaceChildren(...state.labels.map((l) => Object.assign(document.createElement("option"), {value: l.name})));
  $("movebox").hidden = false;
  $("moveto").value = img.suspect && img.suspect.looks_like ? img.suspect.looks_like : "";
  $("moveto").focus();
  $("moveto").select();  // typing replaces the suggestion
}

function openViewer() {
  const img = imagesOfLabel()[selected];
  if (!img || !img.ok) return;
  $("big").src = urlFor("image", img.path);
  $("caption").textContent = `${img.path} (${img.width}x${img.height})`;
  $("viewer").hidden = false;
}

function askReason() {
  $("reasonbox").hidden = false;
  $("reason").value = "";
  $("reason").focus();
}

function toast(text, error = false) {
  const t = $("toast");
  t.textContent = text;
  t.className = error ? "error" : "";
}

const seenObserver = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (entry.isIntersecting) reviewedQueue.add(entry.target.dataset.path);
  }
}, {threshold: 0.5});

function renderNearBottom() {
  const main = document.querySelector("main");
  while (state && rendered < imagesOfLabel().length && main.scrollTop + main.clientHeight > main.scrollHeight - 1500) renderMore();
}
document.querySelector("main").addEventListener("scroll", renderNearBottom, {passive: true});
new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) renderNearBottom();
}).observe($("sentinel"));

setInterval(() => {
  if (!reviewedQueue.size) return;
  const paths = [...reviewedQueue];
  reviewedQueue.clear();
  post("/api/reviewed", {paths}).catch(() => paths.forEach((p) => reviewedQueue.add(p)));
}, 1000);

document.addEventListener("keydown", async (event) => {
  if (!$("movebox").hidden) {
    if (event.key === "Enter") { $("movebox").hidden = true; const img = imagesOfLabel()[selected]; const target = $("moveto").value.trim(); inOrder(() => moveTo(img, target)); }
    if (event.key === "Escape") $("movebox").hidden = true;
    return;
  }
  if (!$("reasonbox").hidden) {
    if (event.key === "Enter") { $("reasonbox").hidden = true; const img = imagesOfLabel()[selected]; const reason = $("reason").value.trim(); inOrder(() => reject(img, reason)); }
    if (event.key === "Escape") $("reasonbox").hidden = true;
    return;
  }
  if (event.key === "Escape") { $("viewer").hidden = true; $("help").hidden = true; return; }
  if (!$("viewer").hidden && event.key === "Enter") { $("viewer").hidden = true; return; }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const steps = {ArrowRight: 1, l: 1, ArrowLeft: -1, h: -1, ArrowDown: "row", j: "row", ArrowUp: "-row", k: "-row"};
  if (event.key in steps) {
    event.preventDefault();
    const step = steps[event.key];
    selected += step === "row" ? columns() : step === "-row" ? -columns() : step;
    markSelected();
  } else if (event.key === "x") {
    const img = imagesOfLabel()[selected];  // the image selected now, even if an earlier save is still running
    inOrder(() => reject(img, ""));
  } else if (event.key === "r") {
    event.preventDefault();
    askReason();
  } else if (event.key === "m") {
    event.preventDefault();
    const img = imagesOfLabel()[selected];
    if (img && img.suspect && img.suspect.looks_like && !img.movedTo) inOrder(() => moveTo(img, img.suspect.looks_like));
    else askMove();
  } else if (event.key === "M") {
    event.preventDefault();
    askMove();
  } else if (event.key === "u") {
    inOrder(undo);
  } else if (event.key === "Enter") {
    openViewer();
  } else if (event.key === "n") {
    selectLabel(labelIndex + 1);
  } else if (event.key === "p") {
    selectLabel(labelIndex - 1);
  } else if (event.key === "v") {
    hideRejected = !hideRejected;
    $("toggle-hidden").textContent = hideRejected ? "show rejected" : "hide rejected";
    renderGrid();
  } else if (event.key === "a") {
    showAll = !showAll;
    await load();
  } else if (event.key === "?") {
    $("help").hidden = !$("help").hidden;
  }
});

$("toggle-all").addEventListener("click", async () => { showAll = !showAll; await load(); });
$("toggle-hidden").addEventListener("click", () => {
  hideRejected = !hideRejected;
  $("toggle-hidden").textContent = hideRejected ? "show rejected" : "hide rejected";
  renderGrid();
});
$("undo").addEventListener("click", () => inOrder(undo));
$("move").addEventListener("click", askMove);
$("viewer").addEventListener("click", () => { $("viewer").hidden = true; });
$("help").addEventListener("click", () => { $("help").hidden = true; });

load();
