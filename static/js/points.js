// The awarding page: choose a rule, then households by scanning cards, typing
// card numbers or ticking a village list. A USB scanner types the QR payload
// and Enter into the scan field; each scan adds one household. The scan field
// belongs to its own (empty) form, so Enter there never submits the award.
// No inline script (the CSP forbids it): the page hands its data over in a
// JSON block.
(function () {
  "use strict";
  var form = document.getElementById("award-form");
  var dataBlock = document.getElementById("award-data");
  if (!form || !dataBlock) { return; }
  var data = JSON.parse(dataBlock.textContent);
  var msg = data.messages;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var scan = document.getElementById("scan");
  var scanForm = document.getElementById("scan-form");
  var filterForm = document.getElementById("filter-form");
  var status = document.getElementById("scan-status");
  var chosen = document.getElementById("chosen");
  var chosenEmpty = document.getElementById("chosen-empty");
  var holder = document.getElementById("village-households");
  var villageSelect = document.getElementById("village-select");
  var villageInput = document.getElementById("award-village-id");
  var ruleSelect = document.getElementById("rule_code");
  var facts = document.getElementById("rule-facts");
  var evidence = document.getElementById("evidence");
  var evidenceNeeded = document.getElementById("evidence-needed");
  var count = document.getElementById("selected-count");
  var submit = document.getElementById("award-submit");
  var busy = false;

  document.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] !== undefined ? values[key] : "";
    });
  }

  function say(text, kind) {
    status.textContent = text;
    status.className = "scan-status" + (kind ? " scan-" + kind : "");
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function boxesFor(id) {
    return form.querySelectorAll('input[name="household_ids"][value="' + String(id) + '"]');
  }

  function checkedIds() {
    var ids = {};
    form.querySelectorAll('input[name="household_ids"]:checked').forEach(function (b) { ids[b.value] = true; });
    return Object.keys(ids);
  }

  function visibleBoxes() {
    return Array.prototype.filter.call(
      holder.querySelectorAll('.village-list input[name="household_ids"]'),
      function (b) { return !b.closest("li").hidden; });
  }

  function syncSelectAll() {
    var all = holder.querySelector(".select-all");
    if (!all) { return; }
    var boxes = visibleBoxes();
    all.checked = boxes.length > 0 && boxes.every(function (b) { return b.checked; });
  }

  function update() {
    var n = checkedIds().length;
    count.textContent = n === 1 ? msg.chosenOne : fill(msg.chosenMany, {n: n});
    count.classList.remove("error");
    chosenEmpty.hidden = chosen.children.length > 0;
    syncSelectAll();
  }

  function highlight(li) {
    li.classList.remove("just-added");
    void li.offsetWidth;  // restart the animation
    li.classList.add("just-added");
  }

  function chosenItem(h) {
    var li = el("li", {"class": "pick-item", "data-id": String(h.id),
                       "data-search": (h.head_name + " " + h.code).toLowerCase()});
    var label = el("label");
    var box = el("input", {type: "checkbox", name: "household_ids", value: String(h.id)});
    box.checked = true;
    label.appendChild(box);
    label.appendChild(el("span", {"class": "pick-name"}, h.head_name));
    label.appendChild(el("span", {"class": "pick-code"}, h.code + " · " + h.village));
    li.appendChild(label);
    return li;
  }

  function addHousehold(h) {
    var boxes = boxesFor(h.id);
    var values = {name: h.head_name, code: h.code, village: h.village};
    if (boxes.length) {
      var wasChecked = Array.prototype.some.call(boxes, function (b) { return b.checked; });
      boxes.forEach(function (b) { b.checked = true; highlight(b.closest("li")); });
      say(fill(wasChecked ? msg.already : msg.added, values), "ok");
    } else {
      var li = chosenItem(h);
      chosen.appendChild(li);
      highlight(li);
      say(fill(msg.added, values), "ok");
    }
    update();
  }

  function resolve(code) {
    busy = true;
    fetch(data.resolveUrl, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify({code: code})
    }).then(function (response) {
      return response.json().catch(function () { return {detail: msg.failed}; }).then(function (body) {
        if (response.ok && body.household) {
          addHousehold(body.household);
        } else {
          say(body.detail || msg.failed, "error");
        }
      });
    }).catch(function () {
      say(msg.offline, "error");
    }).then(function () { busy = false; });
  }

  function takeScan() {
    var code = scan.value.trim();
    scan.value = "";
    scan.focus();
    if (!code) { say(msg.empty, "error"); return; }
    resolve(code);
  }

  scan.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); takeScan(); }
  });
  scanForm.addEventListener("submit", function (event) { event.preventDefault(); takeScan(); });
  filterForm.addEventListener("submit", function (event) { event.preventDefault(); });

  // -- the village list ------------------------------------------------------
  holder.addEventListener("change", function (event) {
    var target = event.target;
    if (target.classList.contains("select-all")) {
      visibleBoxes().forEach(function (b) { b.checked = target.checked; });
    }
    update();
  });
  chosen.addEventListener("change", update);

  holder.addEventListener("input", function (event) {
    if (!event.target.classList.contains("list-filter")) { return; }
    var q = event.target.value.trim().toLowerCase();
    holder.querySelectorAll(".village-list li[data-search]").forEach(function (li) {
      li.hidden = q !== "" && li.getAttribute("data-search").indexOf(q) === -1;
    });
    syncSelectAll();
  });
  holder.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.classList.contains("list-filter")) { event.preventDefault(); }
  });

  function keepTicked() {
    // Households ticked in the village being left stay chosen.
    holder.querySelectorAll('.village-list input[name="household_ids"]:checked').forEach(function (b) {
      var li = b.closest("li");
      li.hidden = false;
      chosen.appendChild(li);
    });
  }

  function dedupeChosen() {
    holder.querySelectorAll('.village-list input[name="household_ids"]').forEach(function (b) {
      var twin = chosen.querySelector('input[name="household_ids"][value="' + b.value + '"]');
      if (twin) {
        b.checked = b.checked || twin.checked;
        twin.closest("li").remove();
      }
    });
  }

  villageSelect.addEventListener("change", function () {
    keepTicked();
    var id = villageSelect.value;
    villageInput.value = id;
    if (!id) { holder.textContent = ""; update(); return; }
    fetch(holder.getAttribute("data-url") + "?village_id=" + encodeURIComponent(id),
          {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        holder.innerHTML = html;
        dedupeChosen();
        update();
      })
      .catch(function () { say(msg.offline, "error"); });
  });

  // -- the rule ----------------------------------------------------------------
  function showRule() {
    var option = ruleSelect.options[ruleSelect.selectedIndex];
    if (!option || !option.value) {
      facts.hidden = true;
      evidenceNeeded.hidden = true;
      submit.textContent = msg.award;
      return;
    }
    var points = Number(option.getAttribute("data-points"));
    var parts = [fill(msg.facts, {points: (points > 0 ? "+" : "") + points})];
    if (option.getAttribute("data-cap")) { parts.push(fill(msg.cap, {cap: option.getAttribute("data-cap")})); }
    var needsPhoto = option.getAttribute("data-evidence") === "yes";
    if (needsPhoto) { parts.push(msg.photo); }
    facts.textContent = parts.join(" · ");
    facts.className = "rule-facts " + (points > 0 ? "plus" : "minus");
    facts.hidden = false;
    evidenceNeeded.hidden = !needsPhoto;
    if (evidence) { evidence.required = needsPhoto; }
    submit.textContent = points > 0 ? msg.award : msg.deduct;
  }
  ruleSelect.addEventListener("change", showRule);
  showRule();

  // -- sending -------------------------------------------------------------------
  form.addEventListener("submit", function (event) {
    if (checkedIds().length === 0) {
      event.preventDefault();
      count.textContent = msg.none;
      count.classList.add("error");
      return;
    }
    if (busy || submit.disabled) { event.preventDefault(); return; }
    submit.disabled = true;  // one tap, one award
  });
  window.addEventListener("pageshow", function () { submit.disabled = false; });

  update();
})();
