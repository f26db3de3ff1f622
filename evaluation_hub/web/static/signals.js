"use strict";
// Collusion signals (串通投标提示信号): one drawing for the supervision page and the host's
// console, from the document of GET .../supervision/signals or .../evaluation/signals.
// Places and sizes only: the hub never sends the shared text.

function signalRows(doc) {
  const rows = [];
  const b = doc.bidders;
  if (b) {
    for (const p of b.pairs) {
      const where = p.kind === "same_chapter" ? p.chapter_a
        : `${p.bidder_a} 的 ${p.chapter_a} 与 ${p.bidder_b} 的 ${p.chapter_b}`;
      rows.push([p.kind, p.kind_name, `${p.bidder_a}、${p.bidder_b}`, where,
        `相似度 ${p.jaccard.toFixed(2)}，包含度 ${p.containment.toFixed(2)}；相同段落 ${p.passages} 处，最长 ${p.longest} 字`]);
    }
    for (const s of b.strings) {
      rows.push([`string-${s.kind}`, s.kind_name, s.bidders.join("、"),
        s.places.map((q) => `${q.bidder_id} 的 ${q.chapter_id} 第 ${q.start + 1}–${q.end} 字`).join("；"),
        `${s.length} 个字符（内容不显示）`]);
    }
    for (const t of b.prices) {
      rows.push(["price", t.kind_name, `${t.bidder_a}、${t.bidder_b}`, "投标报价",
        `末尾 ${t.digits} 位相同（最低位：${t.lowest_place_name}），超出取整可解释的范围`]);
    }
  }
  for (const n of doc.sheets || []) {
    const name = (code) => (code ? `专家 ${code}` : "其他场地的专家");
    rows.push(["sheets", n.kind_name, `${name(n.expert_a)}、${name(n.expert_b)}`, "全部评分项",
      `${n.agreement_percent} 的评分项分值相同`]);
  }
  return rows;
}

function signalNotes(doc) {
  const notes = [];
  if (doc.bidders === null) {
    notes.push(doc.scope === "venue" ? "投标人之间的提示信号由主场监督人员查看。" : "尚未导入标书包。");
  } else if (!doc.bidders.checked) {
    notes.push("该标书包导入时尚未进行跨章节、异常字符串和报价尾数检查，仅列出同章节雷同提示。");
  }
  if (doc.sheets === null) {
    notes.push(doc.sealed ? "专家之间的评分一致性信号无法在此计算。" : "专家之间的评分一致性信号在评分封存后计算。");
  }
  return notes;
}

// Draws the signals into ``container`` (a <div>), replacing what it held.
function renderSignals(container, doc) {
  const rows = signalRows(doc);
  const parts = [el("p", { class: "hint disclaimer", textContent: doc.disclaimer })];
  for (const note of signalNotes(doc)) parts.push(el("p", { class: "hint", textContent: note }));
  if (rows.length === 0) {
    const none = doc.scope === "venue" ? "未发现涉及本场地就座专家的提示信号。" : "未发现串通投标提示信号。";
    parts.push(el("p", { class: "signals-summary", textContent: none }));
  } else {
    parts.push(el("p", { class: "signals-summary", textContent: `共 ${rows.length} 条提示信号，请核查。` }));
    const head = el("tr", {}, ...["信号", "涉及", "位置", "规模"].map((t) => el("th", { textContent: t })));
    const body = rows.map(([kind, ...cells]) =>
      el("tr", { "data-kind": kind }, ...cells.map((t) => el("td", { textContent: t }))));
    parts.push(el("table", { class: "signals" }, el("thead", {}, head), el("tbody", {}, ...body)));
  }
  container.replaceChildren(...parts);
}
