// The checkout counter (兑换). Vanilla JS, no inline script (the CSP forbids
// it): the page hands over its data and its translated messages in a JSON
// block (#counter-data).
//
// Keyboard flow for a USB scanner: the scan field keeps the focus; a scanner
// types the code and Enter. "81" + 39 digits (a card's QR payload) or a typed
// 10-digit card number selects the household; a product barcode (EAN-13,
// EAN-8, UPC-A or GTIN-14) adds one of that
// product (only once a household is selected). Ctrl+Enter confirms. Scans are
// handled one after another, in the order they came.
//
// The camera (HTTPS or localhost only) decodes QR cards and EAN-13, EAN-8 and UPC-A barcodes
// with the vendored BarcodeDetector (ZXing wasm from /static/vendor).
(function () {
  "use strict";

  var dataBlock = document.getElementById("counter-data");
  var data = dataBlock ? JSON.parse(dataBlock.textContent) : {};
  var msg = data.messages || {};
  var urls = data.urls || {};
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] !== undefined ? values[key] : "";
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // JSON to and from the counter's endpoints; resolves {ok, status, body},
  // rejects only when the server could not be reached.
  function api(method, url, body, headers) {
    var h = {"Accept": "application/json", "X-CSRFToken": csrf};
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    var init = {method: method, headers: h, credentials: "same-origin"};
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
        return {ok: response.ok, status: response.status, body: parsed || {}};
      });
    });
  }

  // The translated message of a problem+json answer.
  function problemText(body) {
    var parts = [];
    if (body && body.errors) {
      Object.keys(body.errors).forEach(function (k) {
        (body.errors[k] || []).forEach(function (m) { if (parts.indexOf(m) < 0) { parts.push(m); } });
      });
    }
    if (!parts.length) { parts.push((body && (body.detail || body.title)) || String(body && body.status)); }
    return parts.join(" ");
  }

  // A key per cart (Idempotency-Key: a retried confirm never charges twice). crypto.randomUUID needs a
  // secure context; getRandomValues works on a plain-HTTP LAN too.
  function newKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "counter-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // Print buttons (the receipt over the till, and the receipt page).
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // A 58 mm roll has no page length: make the page as long as this receipt
  // (measured on a hidden copy laid out as counter.css prints it), so the
  // printer does not feed blank paper after it.
  function fitPage(receipt) {
    if (!receipt) { return; }
    var copy = receipt.cloneNode(true);
    copy.removeAttribute("id");
    copy.classList.add("print-measure");
    document.body.appendChild(copy);
    var mm = copy.getBoundingClientRect().height * 25.4 / 96;
    document.body.removeChild(copy);
    var style = document.getElementById("receipt-page-size");
    if (!style) {
      style = el("style", {id: "receipt-page-size"});
      document.head.appendChild(style);
    }
    style.textContent = "@page { size: 58mm " + Math.ceil(mm + 4 + 3) + "mm; margin: 2mm 3mm; }";
  }
  fitPage(document.querySelector(".receipt-page .receipt58"));

  var status = document.getElementById("scan-status");
  function say(text, kind) {
    if (!status) { return; }
    status.textContent = text;
    status.className = "scan-status" + (kind ? " scan-" + kind : "");
  }

  // -- the day's checkouts: void (reason required) -------------------------------

  var todayList = document.getElementById("today-list");
  var onVoided = null;

  function refreshToday() {
    if (!todayList || !urls.today) { return Promise.resolve(); }
    return api("GET", urls.today).then(function (r) {
      if (r.ok && typeof r.body.html === "string") { todayList.innerHTML = r.body.html; }
    }, function () {});
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest ? event.target.closest(".void-form") : null;
    if (!form) { return; }
    event.preventDefault();
    var input = form.querySelector("input[name=reason]");
    var error = form.querySelector(".void-error");
    var button = form.querySelector("button[type=submit]");
    var reason = input.value.trim();
    if (!reason) {
      error.textContent = msg.reasonNeeded;
      input.focus();
      return;
    }
    button.disabled = true;
    error.textContent = "";
    api("POST", form.getAttribute("data-void-url"), {reason: reason}).then(function (r) {
      if (!r.ok) {
        error.textContent = problemText(r.body);
        button.disabled = false;
        return;
      }
      say(fill(msg.voided, {id: r.body.id}), "ok");
      if (onVoided) { onVoided(r.body); }
      return refreshToday();
    }, function () {
      error.textContent = msg.network || "";
      button.disabled = false;
    });
  });

  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.classList && details.classList.contains("void") && details.open) {
      var input = details.querySelector("input[name=reason]");
      if (input) { input.focus(); }
    }
  }, true);

  // -- the till ---------------------------------------------------------------------

  var scan = document.getElementById("scan");
  if (!scan || !data.products) { return; }

  var counter = document.getElementById("counter");
  var householdNone = document.getElementById("household-none");
  var householdInfo = document.getElementById("household-info");
  var cartList = document.getElementById("cart-lines");
  var cartEmpty = document.getElementById("cart-empty");
  var bar = document.getElementById("checkout-bar");
  var totalBox = document.getElementById("cart-total");
  var afterBox = document.getElementById("cart-after");
  var cartProblem = document.getElementById("cart-problem");
  var confirmButton = document.getElementById("confirm");
  var confirmLabel = confirmButton.textContent;
  var receiptBox = document.getElementById("receipt-box");
  var receiptSlot = document.getElementById("receipt-slot");
  var MAX_QUANTITY = 999;

  var byId = {};
  var byBarcode = {};
  function remember(p) {
    byId[p.id] = p;
    if (p.barcode) { byBarcode[p.barcode] = p; }
  }
  data.products.forEach(remember);

  // State: the household (with how it was identified: {payload} or {number}),
  // the cart [{product_id, quantity}], this cart's idempotency key.
  var household = null;
  var buyer = null;
  var limitLeft = null;
  var cart = [];
  var cartKey = newKey();
  var busy = false;
  var justAdded = null;

  function total() {
    return cart.reduce(function (sum, line) { return sum + byId[line.product_id].points_price * line.quantity; }, 0);
  }

  function setText(id, text) { document.getElementById(id).textContent = text; }

  function render() {
    counter.classList.toggle("no-household", !household);
    householdNone.hidden = !!household;
    householdInfo.hidden = !household;
    if (household) {
      setText("hh-name", household.head_name);
      setText("hh-village", household.village);
      setText("hh-code", household.code);
      setText("hh-card", household.card || "");
      var noCard = !!(buyer && buyer.household_id);
      document.getElementById("hh-card-box").hidden = noCard;
      var pill = document.getElementById("hh-nocard");
      pill.hidden = !noCard;
      if (noCard) {
        pill.textContent = buyer.no_card_reason ?
          fill(msg.noCardWhy, {reason: reasonText(buyer.no_card_reason)}) : msg.noCard;
      }
      setText("hh-balance", String(household.balance));
      document.getElementById("hh-limit-box").hidden = limitLeft === null || limitLeft === undefined;
      setText("hh-limit", String(limitLeft));
    }

    cartList.textContent = "";
    cart.forEach(function (line, i) {
      var p = byId[line.product_id];
      var li = el("li", {"class": "cart-line", "data-index": String(i), "data-product": String(p.id)});
      if (line.quantity > p.stock) { li.className += " over"; }
      if (justAdded === p.id) { li.className += " just-added"; }
      var name = el("div", {"class": "cart-name"}, p.name);
      name.appendChild(el("small", {}, fill(msg.lineOf, {n: line.quantity, price: p.points_price}) + " " + msg.points + "/" + p.unit));
      li.appendChild(name);
      var qty = el("div", {"class": "cart-qty"});
      qty.appendChild(el("button", {type: "button", "data-step": "-1", "aria-label": msg.less + " " + p.name}, "−"));
      qty.appendChild(el("b", {"class": "cart-n"}, String(line.quantity)));
      qty.appendChild(el("button", {type: "button", "data-step": "1", "aria-label": msg.more + " " + p.name}, "+"));
      li.appendChild(qty);
      li.appendChild(el("div", {"class": "cart-points"}, String(p.points_price * line.quantity)));
      cartList.appendChild(li);
    });
    cartEmpty.hidden = cart.length > 0;

    var sum = total();
    totalBox.textContent = String(sum);
    var problem = "";
    var over = false;
    if (household) {
      afterBox.textContent = String(household.balance - sum);
      if (sum > household.balance) {
        over = true;
        problem = fill(msg.overBalance, {total: sum, balance: household.balance});
      } else if (limitLeft !== null && limitLeft !== undefined && sum > limitLeft) {
        over = true;
        problem = fill(msg.overLimit, {left: limitLeft});
      }
    } else {
      afterBox.textContent = "–";
    }
    bar.classList.toggle("over", over);
    if (!busy) { cartProblem.textContent = problem; }
    confirmButton.disabled = busy || !household || !cart.length || over;

    var inCart = {};
    cart.forEach(function (line) { inCart[line.product_id] = line.quantity; });
    document.querySelectorAll(".good[data-product]").forEach(function (tile) {
      var p = byId[Number(tile.getAttribute("data-product"))];
      if (!p) { return; }
      tile.classList.toggle("in-cart", !!inCart[p.id]);
      tile.classList.toggle("sold-out", p.stock <= 0);
      tile.classList.toggle("just-added", justAdded === p.id);
      var stock = tile.querySelector("[data-stock]");
      if (stock) { stock.textContent = String(p.stock); }
    });
    justAdded = null;
  }

  function newCart() {
    cart = [];
    cartKey = newKey();
  }

  function updateStock(levels) {
    Object.keys(levels || {}).forEach(function (id) {
      if (byId[id]) { byId[id].stock = levels[id]; }
    });
  }

  function hideReceipt() {
    if (!receiptBox.hidden) {
      receiptBox.hidden = true;
      receiptSlot.textContent = "";
    }
  }

  // -- scans ------------------------------------------------------------------------

  function selectHousehold(ref) {
    var body = {supermarket_id: data.supermarket_id};
    Object.keys(ref).forEach(function (k) { body[k] = ref[k]; });
    return api("POST", urls.resolve, body).then(function (r) {
      hideReceipt();
      if (!r.ok) {
        // Someone else is at the counter now: nothing may go on the last household's cart.
        household = null;
        buyer = null;
        newCart();
        render();
        say(problemText(r.body), "error");
        return;
      }
      takeHousehold(r.body, ref);
    });
  }

  // The household at the counter now, by its card ({payload} or {number}) or,
  // without one, {household_id, no_card_reason, passbook_pin}.
  function takeHousehold(body, ref) {
    var found = body.household;
    var another = household && household.id !== found.id;
    if (!household || another) {
      if (another && cart.length) { say(msg.newHousehold, "error"); }
      newCart();
    }
    household = found;
    household.card = body.card ? body.card.number : "";
    buyer = ref;
    limitLeft = body.limit_left;
    render();
    if (!another || !cart.length) {
      say(fill(msg.selected, {name: found.head_name, balance: found.balance}), "ok");
    }
  }

  function reasonText(code) {
    return (msg.reasons && msg.reasons[code]) || code;
  }

  // -- a household without its card: search, pick, PIN or a reason ---------------------

  var noCardBox = document.getElementById("nocard");
  var noCardQ = document.getElementById("nocard-q");
  var noCardResults = document.getElementById("nocard-results");
  var noCardPick = document.getElementById("nocard-pick");
  var pinForm = document.getElementById("nc-pin-form");
  var pinInput = document.getElementById("nc-pin");
  var reasonForm = document.getElementById("nc-reason-form");
  var otherInput = document.getElementById("nc-other");
  var noCardError = document.getElementById("nc-error");
  var searchError = document.getElementById("nocard-found");
  var reasonLegend = document.getElementById("nc-reason-legend");
  var legendText = reasonLegend.textContent;
  var picked = null;

  function openNoCard(q) {
    hideReceipt();
    noCardBox.hidden = false;
    if (q !== undefined) { noCardQ.value = q; }
    noCardPick.hidden = true;
    noCardError.textContent = "";
    searchError.textContent = "";
    noCardQ.focus();
  }

  function closeNoCard() {
    noCardBox.hidden = true;
    noCardResults.textContent = "";
    noCardPick.hidden = true;
    picked = null;
    pinInput.value = "";
    focusScan();
  }

  function showResults(items) {
    noCardResults.textContent = "";
    items.forEach(function (item) {
      var li = el("li", {"class": "nocard-item"});
      var who = el("span", {"class": "nocard-who"});
      who.appendChild(el("b", {}, item.head_name));
      who.appendChild(el("span", {"class": "muted"}, " " + item.village + " · " + item.code));
      li.appendChild(who);
      var button = el("button", {type: "button", "class": "small", "data-pick": String(item.id)}, msg.pick);
      button.addEventListener("click", function () { showPick(item); });
      li.appendChild(button);
      noCardResults.appendChild(li);
    });
  }

  function showPick(item) {
    picked = item;
    searchError.textContent = "";
    noCardResults.textContent = "";
    setText("nc-name", item.head_name);
    setText("nc-village", item.village);
    setText("nc-code", item.code);
    noCardPick.hidden = false;
    noCardError.textContent = "";
    pinInput.value = "";
    reasonForm.reset();
    otherInput.hidden = true;
    pinForm.hidden = !item.has_pin;
    reasonLegend.textContent = item.has_pin ? msg.pinLegend : legendText;
    if (item.has_pin) { pinInput.focus(); }
  }

  function search(body, shown) {
    noCardError.textContent = "";
    searchError.textContent = "";
    body.supermarket_id = data.supermarket_id;
    return api("POST", urls.households, body).then(function (r) {
      if (!r.ok) { searchError.textContent = problemText(r.body); return; }
      var items = r.body.items || [];
      if (items.length === 1 && body.code) { showPick(items[0]); return; }
      showResults(items);
      noCardPick.hidden = true;
      say(items.length ? fill(msg.searchFound, {n: items.length}) :
        (body.code ? fill(msg.codeNone, {code: shown}) : fill(msg.searchNone, {q: shown})),
          items.length ? "ok" : "error");
      if (!items.length) { searchError.textContent = status.textContent; }
    });
  }

  function findByCode(code) {
    openNoCard(code);
    return search({code: code}, code);
  }

  function findByName(q) {
    openNoCard(q);
    return search({q: q}, q);
  }

  document.getElementById("nocard-open").addEventListener("click", function () { openNoCard(); });
  document.getElementById("nocard-close").addEventListener("click", closeNoCard);
  document.getElementById("nocard-search").addEventListener("submit", function (event) {
    event.preventDefault();
    var q = noCardQ.value.trim();
    if (!q) { searchError.textContent = msg.searchType; noCardQ.focus(); return; }
    search({q: q}, q);
  });

  reasonForm.addEventListener("change", function () {
    var checked = reasonForm.querySelector("input[name=reason]:checked");
    otherInput.hidden = !(checked && checked.value === "other");
    if (!otherInput.hidden) { otherInput.focus(); }
  });

  function serve(ref) {
    var body = {supermarket_id: data.supermarket_id, household_id: picked.id};
    if (ref.passbook_pin) { body.passbook_pin = ref.passbook_pin; }
    noCardError.textContent = "";
    return api("POST", urls.household, body).then(function (r) {
      if (!r.ok) {
        noCardError.textContent = problemText(r.body);
        if (ref.passbook_pin) { pinInput.value = ""; pinInput.focus(); }
        return;
      }
      ref.household_id = picked.id;
      closeNoCard();
      takeHousehold(r.body, ref);
    }, function () { noCardError.textContent = msg.network; });
  }

  pinForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var pin = pinInput.value.trim();
    if (!/^\d{6}$/.test(pin)) { noCardError.textContent = msg.pinNeeded; pinInput.focus(); return; }
    serve({passbook_pin: pin, no_card_reason: "pin"});
  });

  reasonForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var checked = reasonForm.querySelector("input[name=reason]:checked");
    var reason = checked ? checked.value : "";
    if (reason === "other") { reason = otherInput.value.trim(); }
    if (!reason) { noCardError.textContent = msg.reasonPick; return; }
    serve({no_card_reason: reason});
  });

  function addProduct(p, n) {
    n = n || 1;
    if (!household) { say(msg.needCard, "error"); return; }
    var line = null;
    cart.forEach(function (l) { if (l.product_id === p.id) { line = l; } });
    var have = line ? line.quantity : 0;
    if (p.stock <= 0) { say(fill(msg.noStock, {name: p.name}), "error"); return; }
    if (have + n > p.stock || have + n > MAX_QUANTITY) {
      say(fill(msg.stockLimit, {n: p.stock, name: p.name}), "error");
      return;
    }
    if (line) { line.quantity += n; } else { cart.push({product_id: p.id, quantity: n}); }
    justAdded = p.id;
    render();
    say(fill(msg.added, {name: p.name, n: have + n}), "ok");
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

  function scanProduct(code) {
    if (!household) { say(msg.needCard, "error"); return; }
    if (!gtinValid(code)) { say(fill(msg.misread, {code: code}), "error"); return; }
    var known = byBarcode[normalGtin(code)];
    if (known && known.stock > 0) { addProduct(known); return; }
    // Not on a tile, or sold out when the page was drawn: ask the server.
    var url = urls.product + "?supermarket_id=" + encodeURIComponent(data.supermarket_id) +
      "&barcode=" + encodeURIComponent(code);
    return api("GET", url).then(function (r) {
      if (!r.ok) { say(problemText(r.body), "error"); return; }
      var p = r.body.product;
      if (byId[p.id]) { byId[p.id].stock = p.stock; p = byId[p.id]; } else { remember(p); }
      addProduct(p);
    });
  }

  function handle(text) {
    var code = String(text || "").replace(/[\s-]+/g, "");
    if (!code) { return; }
    var typed = String(text).trim();
    // A household code (12345678, or 1234-56789 past the ninth-thousandth): a
    // household that forgot its card; so is a name. Both go in a POST body.
    if (/^\d{4,}-\d{4,}$/.test(typed) || (!household && /^\d{8}$/.test(code))) {
      return findByCode(typed);
    }
    if (/[^\d\s-]/.test(typed) && typed.length <= 30) { return findByName(typed); }
    if (/^81\d{39}$/.test(code)) { return selectHousehold({payload: code}); }
    if (/^\d{10}$/.test(code)) { return selectHousehold({number: code}); }
    if (/^\d{8}$|^\d{12,14}$/.test(code)) { return scanProduct(code); }
    say(fill(msg.notUnderstood, {text: String(text).slice(0, 60)}), "error");
  }

  var queue = Promise.resolve();
  function enqueue(text) {
    queue = queue.then(function () { return handle(text); }).catch(function () {
      say(msg.network, "error");
    });
    return queue;
  }

  // -- focus: the scan field, always, unless someone types elsewhere ------------------

  function typingElsewhere() {
    var a = document.activeElement;
    return a && a !== scan && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "SELECT");
  }

  function takeFocus() {
    if (document.activeElement !== scan && !typingElsewhere()) {
      try { scan.focus({preventScroll: true}); } catch (e) { scan.focus(); }
    }
  }

  function focusScan() {
    takeFocus();
    window.setTimeout(takeFocus, 0);  // again, after whatever the click goes on to do
  }

  // A tapped tile or +/- button never takes the focus: a scanner that types right
  // after a tap would otherwise lose its first characters to the button.
  document.addEventListener("mousedown", function (event) {
    if (event.target.closest("button") && !typingElsewhere()) { event.preventDefault(); }
  });

  scan.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") {
      if (event.key === "Escape") { scan.value = ""; }
      return;
    }
    event.preventDefault();
    if (event.ctrlKey || event.metaKey) { confirm(); return; }
    var text = scan.value;
    scan.value = "";
    enqueue(text);
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest("input, textarea, select, summary, label, a")) { focusScan(); }
  });
  window.addEventListener("focus", focusScan);

  // -- goods and cart ---------------------------------------------------------------

  document.querySelectorAll(".good[data-product]").forEach(function (tile) {
    tile.addEventListener("click", function () {
      addProduct(byId[Number(tile.getAttribute("data-product"))]);
    });
  });

  cartList.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-step]");
    var row = event.target.closest("li[data-index]");
    if (!button || !row) { return; }
    var line = cart[Number(row.getAttribute("data-index"))];
    var p = byId[line.product_id];
    var step = Number(button.getAttribute("data-step"));
    if (step > 0) { addProduct(p, 1); return; }
    line.quantity -= 1;
    if (line.quantity <= 0) {
      cart.splice(cart.indexOf(line), 1);
      say(fill(msg.removed, {name: p.name}), "ok");
    }
    render();
  });

  document.getElementById("household-clear").addEventListener("click", function () {
    household = null;
    buyer = null;
    newCart();
    render();
    say("", "");
  });

  // -- confirm ----------------------------------------------------------------------

  function showReceipt(body) {
    receiptSlot.innerHTML = body.receipt_html;
    receiptBox.hidden = false;
    fitPage(receiptSlot.querySelector(".receipt58"));
  }

  function confirm() {
    if (busy || !household || !cart.length || confirmButton.disabled) {
      if (!cart.length && household) { say(msg.emptyCart, "error"); }
      return;
    }
    busy = true;
    confirmButton.disabled = true;
    confirmButton.textContent = msg.confirming;
    cartProblem.textContent = "";
    var body = {supermarket_id: data.supermarket_id, lines: cart.map(function (line) {
      return {product_id: line.product_id, quantity: line.quantity};
    })};
    if (buyer.household_id) {
      body.household_id = buyer.household_id;
      if (buyer.no_card_reason) { body.no_card_reason = buyer.no_card_reason; }
      if (buyer.passbook_pin) { body.passbook_pin = buyer.passbook_pin; }
    } else if (buyer.payload) { body.card_payload = buyer.payload; } else { body.card_number = buyer.number; }
    api("POST", urls.checkout, body, {"Idempotency-Key": cartKey}).then(function (r) {
      busy = false;
      if (!r.ok) {
        updateStock(r.body.stock);
        render();
        var text = problemText(r.body);
        if (r.body.stock) {
          // Name the goods that ran short since the page was drawn.
          var short = cart.filter(function (l) { return l.quantity > byId[l.product_id].stock; });
          if (short.length) {
            text = short.map(function (l) {
              var p = byId[l.product_id];
              return p.stock > 0 ? fill(msg.stockLimit, {n: p.stock, name: p.name}) : fill(msg.noStock, {name: p.name});
            }).join(" ");
          }
        }
        cartProblem.textContent = text;
        say(text, "error");
        if (r.body.type === "conflict") { refreshToday(); }
        return;
      }
      updateStock(r.body.stock);
      household = null;
      buyer = null;
      newCart();
      render();
      showReceipt(r.body);
      say("", "");
      refreshToday();
    }, function () {
      busy = false;
      render();
      cartProblem.textContent = msg.network;
      say(msg.network, "error");
    }).then(function () {
      confirmButton.textContent = confirmLabel;
      render();
      focusScan();
    });
  }

  confirmButton.addEventListener("click", confirm);

  document.getElementById("receipt-next").addEventListener("click", function () {
    hideReceipt();
    focusScan();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !receiptBox.hidden) { hideReceipt(); focusScan(); }
  });

  onVoided = function (body) {
    updateStock(body.stock);
    if (household && household.id === body.household_id) { household.balance = body.balance; }
    render();
    focusScan();
  };

  // -- camera -------------------------------------------------------------------------

  var cameraOpen = document.getElementById("camera-open");
  var cameraBox = document.getElementById("camera");
  var cameraStatus = document.getElementById("camera-status");
  var cameraNote = document.getElementById("camera-unavailable");
  var video = document.getElementById("camera-video");
  var photoBox = document.getElementById("photo-scan");
  var photo = document.getElementById("photo");
  var detectorApi = window.BarcodeDetectionAPI;
  var detector = null;
  var stream = null;
  var timer = null;
  var decoding = false;
  var canvas = document.createElement("canvas");
  var context = null;
  var lastCode = null;
  var lastSeen = 0;

  if (detectorApi) {
    // Load the wasm from our own server, never from a CDN (villages can be offline).
    detectorApi.prepareZXingModule({overrides: {locateFile: function (path, prefix) {
      return /\.wasm$/.test(path) ? urls.vendor + path : prefix + path;
    }}});
  }

  function getDetector() {
    if (!detector && detectorApi) {
      detector = new detectorApi.BarcodeDetector({formats: ["qr_code", "ean_13", "ean_8", "upc_a"]});
    }
    return detector;
  }

  var canUseCamera = !!(window.isSecureContext && navigator.mediaDevices &&
                        navigator.mediaDevices.getUserMedia && detectorApi);
  if (!canUseCamera) {
    cameraOpen.hidden = true;
    cameraNote.hidden = false;
    if (detectorApi) { photoBox.hidden = false; }
  }

  // A code the camera sees: handled once while it stays in view.
  function seen(value) {
    var now = Date.now();
    if (value === lastCode && now - lastSeen < 1500) { lastSeen = now; return; }
    lastCode = value;
    lastSeen = now;
    enqueue(value);
  }

  function tick() {
    if (decoding || !stream || video.readyState < 2 || !video.videoWidth) { return; }
    var scale = Math.min(1, 960 / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    context = context || canvas.getContext("2d", {willReadFrequently: true});
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    decoding = true;
    getDetector().detect(canvas).then(function (codes) {
      decoding = false;
      if (codes && codes.length) { seen(codes[0].rawValue); }
    }, function () { decoding = false; });
  }

  function closeCamera() {
    if (timer) { window.clearInterval(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.srcObject = null;
    cameraBox.hidden = true;
    cameraOpen.hidden = !canUseCamera;
  }

  function openCamera() {
    if (stream) { return; }
    cameraBox.hidden = false;
    cameraStatus.textContent = msg.cameraStarting;
    navigator.mediaDevices.getUserMedia({video: {facingMode: {ideal: "environment"}}, audio: false})
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        var playing = video.play();
        if (playing && playing.catch) { playing.catch(function () {}); }
        cameraOpen.hidden = true;
        cameraStatus.textContent = msg.cameraLooking;
        getDetector();
        timer = window.setInterval(tick, 200);
      }, function (err) {
        cameraBox.hidden = true;
        cameraNote.textContent = fill(msg.cameraFailed, {error: err && err.name ? err.name : String(err)});
        cameraNote.hidden = false;
        if (detectorApi) { photoBox.hidden = false; }
      });
  }

  cameraOpen.addEventListener("click", openCamera);
  document.getElementById("camera-close").addEventListener("click", closeCamera);
  document.addEventListener("visibilitychange", function () { if (document.hidden) { closeCamera(); } });

  // A photo of the code: works over plain HTTP too.
  if (photo) {
    photo.addEventListener("change", function () {
      var file = photo.files && photo.files[0];
      photo.value = "";
      if (!file || !getDetector()) { return; }
      getDetector().detect(file).then(function (codes) {
        if (codes && codes.length) { enqueue(codes[0].rawValue); } else { say(msg.photoNothing, "error"); }
      }, function () { say(msg.photoNothing, "error"); });
    });
  }

  render();
  scan.focus();
})();
