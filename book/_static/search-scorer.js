// Search ranking of the plateau companion (html_search_scorer in _config.yml): Sphinx's scores,
// with the chapters first. A search for one of the book's terms ("ANLS", "plateau") matches
// hundreds of API objects, each scored as an exact object-name match; the reader who types it
// wants the chapter. Pages of the API reference lose what an object match gains, chapters gain
// a title match.
var Scorer = {
  score: (result) => {
    const [docname, title, anchor, descr, score, filename] = result;
    if (docname.startsWith("book/api")) return score - 20;
    if (/^book\/(explanation|quantification|stationary|anls)$/.test(docname)) return score + 15;
    return score;
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
