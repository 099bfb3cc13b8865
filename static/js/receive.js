// Receiving goods at the counter (and goods bought with donated money).
//
// A USB barcode scanner types the code and Enter into the scan field: each
// scan adds one of that product. A short number and Enter sets the quantity
// of the highlighted line. The scan field keeps the focus, so the volunteer
// can scan one item after another without touching the screen; Ctrl+Enter
// saves. A line may carry a best-before date: typed once, it is remembered
// for that product during this delivery, so the next scans of it land on the
// line with that date; "another date" splits the last unit off into a line of
// its own (a second batch of the same goods). No inline script (the CSP forbids it): the page hands its data over
// in a JSON block.
(function () {
  "use strict";
  var form = document.getElementById("receive-form");
  var dataBlock = document.getElementById("receive-data");
  if (!form || !dataBlock) { return; }
  var data = JSON.parse(dataBlock.textContent);
  var msg = data.messages;
  var scan = document.getElementById("scan");
  var status = document.getElementById("scan-status");
  var tbody = form.querySelector("#lines tbody");
  var totalUnits = document.getElementById("total-units");
  var totalValue = document.getElementById("total-value");
  var noLines = document.getElementById("no-lines");
  var pick = document.getElementById("pick");
  var save = document.getElementById("save");
  var MAX_QUANTITY = 1000000;

  var byId = {};
  var byBarcode = {};
  data.products.forEach(function (p) {
    byId[p.id] = p;
    if (p.barcode) { byBarcode[p.barcode] = p; }
  });

  // State: [{product_id, quantity, unit_value, best_before, errors}]; `current` is the highlighted line.
  var lines = (data.lines || []).filter(function (l) { return byId[l.product_id]; }).map(function (l) {
    return {product_id: Number(l.product_id), quantity: l.quantity || "1",
            unit_value: l.unit_value || "", best_before: l.best_before || "", errors: l.errors || []};
  });
  var current = lines.length - 1;
  // The best-before date last typed for each product in this delivery.
  var remembered = {};
  lines.forEach(function (l) { remembered[l.product_id] = l.best_before; });

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] !== undefined ? values[key] : "";
    });
  }

  function say(text, kind) {
    status.textContent = text;
    status.className = "scan-status" + (kind ? " scan-" + kind : "");
  }

  // GTINs (EAN-8, UPC-A, EAN-13, GTIN-14): the check digit, and the one form
  // the server stores (app/services/goods/products.normal_gtin), so a UPC-A
  // finds its product whether the scanner sends 12, 13 or 14 digits.
  function gtinValid(code) {
    var sum = 0;
    var n = code.length;
    for (var i = 0; i < n - 1; i++) { sum += Number(code[i]) * ((n - 1 - i) % 2 ? 3 : 1); }
    return (10 - sum % 10) % 10 === Number(code[n - 1]);
  }

  function normalGtin(code) {
    var gtin14 = ("00000000000000" + code).slice(-14);
    if (gtin14.slice(0, 6) === "000000") { return gtin14.slice(6); }
    return gtin14[0] === "0" ? gtin14.slice(1) : gtin14;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function render() {
    tbody.textContent = "";
    var units = 0;
    var value = 0;
    var anyValue = false;
    lines.forEach(function (line, i) {
      var p = byId[line.product_id];
      var tr = el("tr", {"data-index": String(i), "data-product": String(p.id)});
      if (i === current) { tr.className = "current"; }
      if (line.errors.length) { tr.className += " bad"; }

      var name = el("td", {"class": "line-name"});
      name.appendChild(el("span", {}, p.name));
      name.appendChild(el("small", {"class": "muted"}, " " + p.unit));
      name.appendChild(el("input", {type: "hidden", name: "lines-" + i + "-product_id", value: String(p.id)}));
      var dateLabel = el("label", {"class": "line-date"});
      dateLabel.appendChild(el("span", {"class": "muted"}, msg.bestBefore + " "));
      var dateInput = el("input", {type: "date", "class": "date-input", name: "lines-" + i + "-best_before",
                                   "aria-label": fill(msg.bestBeforeOf, {name: p.name})});
      dateInput.value = line.best_before;
      dateLabel.appendChild(dateInput);
      if ((parseInt(line.quantity, 10) || 0) > 1) {
        dateLabel.appendChild(el("button", {type: "button", "class": "small split", title: msg.split,
                                            "aria-label": fill(msg.splitOf, {name: p.name})}, msg.splitShort));
      }
      name.appendChild(dateLabel);
      line.errors.forEach(function (e) { name.appendChild(el("div", {"class": "error"}, e)); });
      tr.appendChild(name);

      var qty = el("td", {"class": "num line-qty"});
      var less = el("button", {type: "button", "class": "small step", "data-step": "-1",
                               "aria-label": msg.less}, "−");
      var input = el("input", {type: "number", min: "1", step: "1", inputmode: "numeric",
                               "class": "qty-input", name: "lines-" + i + "-quantity",
                               "aria-label": fill(msg.quantityOf, {name: p.name})});
      input.value = line.quantity;
      var more = el("button", {type: "button", "class": "small step", "data-step": "1",
                               "aria-label": msg.more}, "+");
      qty.appendChild(less); qty.appendChild(input); qty.appendChild(more);
      tr.appendChild(qty);

      var val = el("td", {"class": "num"});
      var valueInput = el("input", {type: "text", inputmode: "decimal", "class": "value-input",
                                    name: "lines-" + i + "-unit_value",
                                    "aria-label": fill(msg.valueOf, {name: p.name}),
                                    placeholder: msg.valuePlaceholder});
      valueInput.value = line.unit_value;
      val.appendChild(valueInput);
      tr.appendChild(val);

      var rm = el("td", {});
      rm.appendChild(el("button", {type: "button", "class": "small remove", "aria-label": msg.remove,
                                   title: msg.remove}, "×"));
      tr.appendChild(rm);
      tbody.appendChild(tr);

      var n = parseInt(line.quantity, 10);
      if (n > 0) { units += n; }
      var v = parseFloat(line.unit_value);
      if (!isNaN(v) && n > 0) { value += v * n; anyValue = true; }
    });
    totalUnits.textContent = String(units);
    totalValue.textContent = anyValue ? value.toFixed(2) : "";
    noLines.hidden = lines.length > 0;
    var row = tbody.querySelector("tr.current");
    if (row && row.scrollIntoView) { row.scrollIntoView({block: "nearest"}); }
  }

  function add(product, n) {
    // The product's line with the date remembered for it (any of its lines if none was typed).
    var index = -1;
    var date = remembered[product.id];
    lines.forEach(function (line, i) {
      if (line.product_id === product.id && (date === undefined || line.best_before === date)) { index = i; }
    });
    if (index < 0) {
      lines.push({product_id: product.id, quantity: String(n), unit_value: "", best_before: date || "",
                  errors: []});
      index = lines.length - 1;
    } else {
      var q = (parseInt(lines[index].quantity, 10) || 0) + n;
      lines[index].quantity = String(Math.min(q, MAX_QUANTITY));
      lines[index].errors = [];
    }
    current = index;
    render();
    say(fill(msg.added, {name: product.name, n: lines[index].quantity}), "ok");
  }

  function setQuantity(n) {
    if (current < 0 || !lines[current]) { say(msg.noLine, "error"); return; }
    if (!(n >= 1 && n <= MAX_QUANTITY)) { say(msg.badQuantity, "error"); return; }
    lines[current].quantity = String(n);
    lines[current].errors = [];
    render();
    say(fill(msg.quantity, {name: byId[lines[current].product_id].name, n: n}), "ok");
  }

  function handle(text) {
    var code = text.replace(/\s+/g, "");
    if (!code) { return; }
    if (/^\d{8}$|^\d{12,14}$/.test(code)) {
      if (!gtinValid(code)) { say(fill(msg.misread, {code: code}), "error"); return; }
      var found = byBarcode[normalGtin(code)];
      if (found) { add(found, 1); return; }
      say(fill(msg.unknown, {code: code}), "error");
      return;
    }
    var quantity = /^[*xX×]?(\d{1,7})$/.exec(code);
    if (quantity) { setQuantity(parseInt(quantity[1], 10)); return; }
    say(fill(msg.notUnderstood, {text: text}), "error");
  }

  function focusScan() {
    window.setTimeout(function () { scan.focus(); }, 0);
  }

  scan.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      var text = scan.value;
      scan.value = "";
      handle(text);
    }
  });

  tbody.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    var row = event.target.closest("tr");
    if (!row) { return; }
    var i = Number(row.getAttribute("data-index"));
    if (!button) {
      if (!event.target.closest("input, label")) { current = i; render(); focusScan(); }
      return;
    }
    if (button.classList.contains("split")) {
      // The last unit counted has another date: it starts a line of its own,
      // and the next scans of the product go there once its date is typed.
      var from = lines[i];
      from.quantity = String((parseInt(from.quantity, 10) || 1) - 1);
      lines.splice(i + 1, 0, {product_id: from.product_id, quantity: "1", unit_value: from.unit_value,
                              best_before: "", errors: []});
      remembered[from.product_id] = "";
      current = i + 1;
      render();
      var input = tbody.querySelector('tr[data-index="' + current + '"] .date-input');
      if (input) { input.focus(); }
      say(fill(msg.splitDone, {name: byId[from.product_id].name}), "ok");
      return;
    }
    if (button.classList.contains("remove")) {
      var name = byId[lines[i].product_id].name;
      lines.splice(i, 1);
      current = Math.min(current, lines.length - 1);
      render();
      say(fill(msg.removed, {name: name}), "ok");
    } else if (button.hasAttribute("data-step")) {
      var q = (parseInt(lines[i].quantity, 10) || 0) + Number(button.getAttribute("data-step"));
      lines[i].quantity = String(Math.max(1, Math.min(q, MAX_QUANTITY)));
      current = i;
      render();
    }
    focusScan();
  });

  tbody.addEventListener("input", function (event) {
    var row = event.target.closest("tr");
    if (!row) { return; }
    var i = Number(row.getAttribute("data-index"));
    if (event.target.classList.contains("qty-input")) { lines[i].quantity = event.target.value; }
    if (event.target.classList.contains("value-input")) { lines[i].unit_value = event.target.value; }
    if (event.target.classList.contains("date-input")) {
      lines[i].best_before = event.target.value;
      remembered[lines[i].product_id] = event.target.value;
    }
    lines[i].errors = [];
    current = i;
    row.className = "current";
    var units = 0;
    lines.forEach(function (l) { var n = parseInt(l.quantity, 10); if (n > 0) { units += n; } });
    totalUnits.textContent = String(units);
  });

  document.getElementById("pick-add").addEventListener("click", function () {
    var product = byId[Number(pick.value)];
    if (product) { add(product, 1); }
    pick.value = "";
    focusScan();
  });

  // Enter in any other field must not send the form half-filled (a scanner
  // aimed at the wrong field would): it goes back to the scan field instead.
  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") { return; }
    if (event.ctrlKey || event.metaKey) {
      event.preventDefault();
      if (form.requestSubmit) { form.requestSubmit(save); } else { save.click(); }
      return;
    }
    var target = event.target;
    if (target === scan || target.tagName === "TEXTAREA" || target.tagName === "BUTTON") { return; }
    if (target.tagName === "INPUT" || target.tagName === "SELECT") {
      event.preventDefault();
      if (target.classList.contains("qty-input") || target.classList.contains("value-input")) {
        render();
      }
      focusScan();
    }
  });

  // Keep the focus on the scan field: a tap anywhere that is not a control brings it back.
  document.addEventListener("click", function (event) {
    if (!event.target.closest("input, select, textarea, button, a, label, summary")) { focusScan(); }
  });
  // A tapped button (+/-, remove) never takes the focus from the scan field: a
  // scanner that types right after the tap would otherwise lose its first characters.
  document.addEventListener("mousedown", function (event) {
    if (document.activeElement === scan && event.target.closest("button")) { event.preventDefault(); }
  });

  form.addEventListener("submit", function (event) {
    if (!lines.length) {
      event.preventDefault();
      say(msg.empty, "error");
      focusScan();
      return;
    }
    if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
    form.setAttribute("data-sent", "1");
    save.disabled = true;
    save.textContent = msg.saving;
  });

  // A new donor's fields show only when "+ A new donor" is chosen.
  var donorSelect = form.querySelector("[data-new-donor]");
  var newDonor = document.getElementById("new-donor");
  if (donorSelect && newDonor) {
    var toggle = function () { newDonor.hidden = donorSelect.value !== "new"; };
    donorSelect.addEventListener("change", function () {
      toggle();
      if (donorSelect.value === "new") { document.getElementById("donor_name").focus(); }
    });
    toggle();
  }

  render();
  scan.focus();
})();
