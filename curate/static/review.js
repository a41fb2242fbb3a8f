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
  await decide(img, "reject", reason);
  undoStack.push(img);
}

async function undo() {
  const img = undoStack.pop();
  if (img) await decide(img, "unreject", "");
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
$("viewer").addEventListener("click", () => { $("viewer").hidden = true; });
$("help").addEventListener("click", () => { $("help").hidden = true; });

load();
