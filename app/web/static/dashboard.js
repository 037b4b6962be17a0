// NTM Tracker dashboard: sorts the commune table in place, and says in Vietnamese why a chart
// did not load. Served by the app itself (the page's CSP allows scripts from this server only).
// Without this script the page still works: the table's headers are links the server sorts by.
"use strict";

(function () {
  // the server's Vietnamese messages for API errors (app/web/messages.py::for_script), from the page
  var source = document.getElementById("ntm-messages");
  var MESSAGES = source ? JSON.parse(source.textContent) : {by_type: {}, by_status: {}};

  function problemMessage(status, type) {
    var slug = (type || "").split("/").pop();
    return MESSAGES.by_type[slug] || MESSAGES.by_status[String(status)] ||
      (status >= 500 ? MESSAGES.server_error : MESSAGES.other_error) || "";
  }

  // ---- charts: a failed image becomes a Vietnamese message, the English detail in small print
  function chartFailed(img) {
    if (img.dataset.failed) { return; }
    img.dataset.failed = "1";
    var box = document.createElement("p");
    box.className = "chart-error";
    box.setAttribute("role", "alert");
    box.id = img.id + "-error";
    box.textContent = "Không tải được biểu đồ.";
    img.replaceWith(box);
    fetch(img.src, {credentials: "same-origin"}).then(function (response) {
      var status = response.status;
      return response.json().catch(function () { return {}; }).then(function (body) {
        box.textContent = "Không tải được biểu đồ: " + problemMessage(status, body.type);
        if (body.detail) {
          var small = document.createElement("small");
          small.className = "detail";
          small.lang = "en";
          small.title = body.detail;
          small.textContent = " Chi tiết kỹ thuật (tiếng Anh): " + body.detail;
          box.appendChild(document.createElement("br"));
          box.appendChild(small);
        }
        box.dataset.status = String(status);
      });
    }).catch(function () {
      box.textContent = "Không tải được biểu đồ: mất kết nối tới máy chủ.";
    });
  }

  document.querySelectorAll("img.chart").forEach(function (img) {
    img.addEventListener("error", function () { chartFailed(img); });
    if (img.complete && img.naturalWidth === 0) { chartFailed(img); }
  });

  // ---- the picker: a commune belongs to the unit and year shown; changing either drops it
  var communePick = document.getElementById("commune");
  ["unit", "year"].forEach(function (id) {
    var field = document.getElementById(id);
    if (field && communePick) {
      field.addEventListener("change", function () { communePick.value = ""; communePick.disabled = true; });
    }
  });
  if (communePick) {
    communePick.addEventListener("change", function () {
      if (communePick.value) { communePick.form.submit(); }
    });
  }

  // ---- the commune table: sorted in place, stable (equal keys stay in code order), both directions
  var table = document.getElementById("commune-table");
  if (!table || table.dataset.complete !== "true") { return; }  // a partial list: the server sorts
  var body = table.tBodies[0];

  function compare(key, descending) {
    return function (a, b) {
      var ca = a.dataset.code, cb = b.dataset.code;
      var byCode = ca < cb ? -1 : (ca > cb ? 1 : 0);
      if (key === "code") { return descending ? -byCode : byCode; }
      if (key === "name") {
        // the server's Vietnamese alphabetical order (app/core/text.py::vi_sort_key), as a rank
        var byName = Number(a.dataset.nameRank) - Number(b.dataset.nameRank);
        return (descending ? -byName : byName) || byCode;
      }
      var xa = a.dataset.count, xb = b.dataset.count;
      if (xa === "" || xb === "") {  // communes without a count stay last, either way
        return (xa === "" ? 1 : 0) - (xb === "" ? 1 : 0) || byCode;
      }
      var byCount = Number(xa) - Number(xb);
      return (descending ? -byCount : byCount) || byCode;
    };
  }

  function hrefWith(href, key, dir) {
    var url = new URL(href, window.location.href);
    url.searchParams.set("sort", key);
    url.searchParams.set("dir", dir);
    return url.pathname + url.search + url.hash;
  }

  function show(key, descending) {
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(compare(key, descending));
    rows.forEach(function (row) { body.appendChild(row); });
    table.querySelectorAll("thead th[data-sort]").forEach(function (th) {
      var active = th.dataset.sort === key;
      var link = th.querySelector("a");
      th.setAttribute("aria-sort", active ? (descending ? "descending" : "ascending") : "none");
      th.querySelector(".arrow").textContent = active ? (descending ? "▼" : "▲") : "↕";
      var next = active ? (descending ? "asc" : "desc") : (th.dataset.sort === "count" ? "desc" : "asc");
      link.setAttribute("href", hrefWith(link.getAttribute("href"), th.dataset.sort, next));
    });
  }

  table.querySelectorAll("thead th[data-sort] a").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var url = new URL(link.href, window.location.href);
      var key = url.searchParams.get("sort"), dir = url.searchParams.get("dir");
      show(key, dir === "desc");
      window.history.replaceState(null, "", url.pathname + url.search + "#communes");
    });
  });
})();
