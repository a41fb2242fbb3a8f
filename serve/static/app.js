// The upload page: pick, drop or paste photos; each is posted to /api/classify and shown with its labels.
"use strict";

const chooser = document.getElementById("chooser");
const drop = document.getElementById("drop");
const results = document.getElementById("results");
const message = document.getElementById("message");
let labels = [];  // the model's labels, for the "not one of" card

fetch("/api/model").then(r => r.json()).then(model => {
  labels = model.labels;
  const accuracy = !model.test_images ? "" :
    `, ${(model.test_accuracy * 100).toFixed(1)}% right on ${model.test_images} test photos`;
  document.getElementById("about").textContent =
    `Model ${model.name} (${model.backbone}${accuracy}) knows: ${model.labels.join(", ")}.`;
}).catch(() => say("The model information could not be loaded."));

chooser.addEventListener("change", () => { classifyAll(chooser.files); chooser.value = ""; });
drop.addEventListener("dragover", event => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", event => {
  event.preventDefault();
  drop.classList.remove("over");
  classifyAll(event.dataTransfer.files);
});
document.addEventListener("paste", event => {
  const files = [...event.clipboardData.items].filter(i => i.kind === "file").map(i => i.getAsFile());
  if (files.length) classifyAll(files);
});

function say(text) {
  message.textContent = text;
  message.hidden = !text;
}

function classifyAll(files) {
  say("");
  for (const file of files) classifyOne(file);
}

async function classifyOne(file) {
  const card = document.createElement("div");
  card.className = "result";
  const picture = document.createElement("img");
  picture.alt = file.name;
  picture.src = URL.createObjectURL(file);
  picture.onerror = () => picture.remove();  // not an image the browser shows: the answer says why
  const answer = document.createElement("div");
  answer.className = "answer";
  answer.innerHTML = '<div class="name"></div><div class="rows">Looking…</div>';
  answer.querySelector(".name").textContent = file.name;
  card.append(picture, answer);
  results.prepend(card);
  const form = new FormData();
  form.append("image", file, file.name);
  try {
    const response = await fetch("/api/classify", {method: "POST", body: form});
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `the server said ${response.status}`);
    if (body.known === false) showUnknown(card, answer.querySelector(".rows"), body.top[0]);
    else showTop(answer.querySelector(".rows"), body.top);
  } catch (error) {
    card.classList.add("error");
    answer.querySelector(".rows").textContent = `Not classified: ${error.message}`;
    say(`${file.name}: ${error.message}`);
  }
}

// A photo unlike every training photo: no bars (they would read as an answer), the labels it is not, the closest one.
function showUnknown(card, rows, closest) {
  card.classList.add("unknown");
  rows.innerHTML = '<div class="verdict">None of these</div><div class="notone"></div><div class="closest"></div>';
  rows.querySelector(".notone").textContent = `Not one of: ${labels.join(", ")}`;
  rows.querySelector(".closest").textContent =
    `closest: ${closest.label} (${(closest.probability * 100).toFixed(1)}%), but it looks unlike every photo the model learnt from`;
}

function showTop(rows, top) {
  rows.textContent = "";
  for (const {label, probability} of top) {
    const row = document.createElement("div");
    row.className = "row";
    row.innerHTML = '<span class="label"></span><span class="bar"><span class="fill"></span></span><span class="pct"></span>';
    row.querySelector(".label").textContent = label;
    row.querySelector(".fill").style.width = `${(probability * 100).toFixed(1)}%`;
    row.querySelector(".pct").textContent = `${(probability * 100).toFixed(1)}%`;
    rows.append(row);
  }
}
