#!/usr/bin/env python3
"""Dictionary-free Korean analyzers (suffix stripping) vs Hangul bigrams vs MeCab-ko, same BM25.

Usage: compare_ko_strip.py [--sets debfaq_ko,debfaq_xling] [--data ~/.cache/sillok-eval] [--json]
       compare_ko_strip.py --show "텍스트 ..."     (print every variant's tokens)
       compare_ko_strip.py --suffixes             (print the generated suffix list, one per line)

BM25, metrics, the sign-flip test, the `bigram` and `mecab` tokenizers and the data loading are
imported from compare_ko.py, so `bigram`/`mecab` rows reproduce RESULTS.md. Needs the MeCab venv
only for the `mecab` row (run.sh's venv); every strip variant is pure Python, no dictionary.

Eojeol = a Hangul run [가-힣]+ of the lowercased text (exactly the runs the bigram baseline uses).
Each eojeol w is reduced to a stem s in two steps (see strip_suffix / light_verb):

 1. Suffix strip: remove the LONGEST suffix of w found in SUFFIXES (one pass, no iteration; stacked
    particles such as 에서는 / 들에게 are listed explicitly, generated below), provided the stem left
    has at least `min_stem(suffix)` syllables:
      - 2 syllables for the AMBIGUOUS one-syllable particles (AMBIG: 이 가 의 도 만 과 로 나 들 께),
        which are also the last syllable of many nouns (국가 정의 정도 미만 결과 경로 하나 함께 ...):
        2-syllable nouns are never cut, 3+-syllable ones are cut consistently in docs and queries;
      - 1 syllable for every other suffix (을 를 은 는 에 와 and all multi-syllable particles/endings,
        which almost never end a noun): 것을 → 것, 안에 → 안, 책에서 → 책;
      - 0 when the run is glued to a preceding [a-z0-9] (FAQ는, Debian은, apt에서): the run may be
        entirely a particle and is then dropped.
    `합니다`-type endings are handled on jamo: a syllable with final ㅂ followed by 니다/니까 loses
    니다/니까 and its ㅂ (설치합니다 → 설치하, 갑니다 → 가), same minimum as other endings
    (습 excluded: 습니다/습니까 are listed suffixes).
 2. Light verb (variants with `_lv`): if the stem (or, failing that, the original eojeol) is
    X + L + E with X >= 2 syllables, L a form of 하다/되다/시키다 (LV_FORMS: 하 해 했 한 할 함 합
    되 돼 됐 된 될 됨 됩 시키 시켜 시켰 시킨 시킬) and E in LV_END (a short list of endings, including
    the empty one), the stem becomes X (leftmost such split): 진단하여 → 진단, 설치된 → 설치,
    필요한 → 필요, 설치했습니다 → 설치했 → 설치. One-syllable X (대하여, 위해, 통해) is left alone.

Variants (non-Hangul text tokenized as in compare_ko.py everywhere):
  bigram, mecab      as in compare_ko.py (baseline and MeCab content morphemes)
  strip[_lv]         the stem as ONE whole token per eojeol
  stripbi[_lv]       the stem as a whole token PLUS the overlapping bigrams of the stem (not of the
                     particles), one field/vocabulary, so a query 혈압 hits 고혈압's bigram; a
                     2-syllable stem is emitted once (it is its own bigram)
  stembi[_lv]        only the bigrams of the stem (a 1-syllable stem kept whole): the bigram
                     baseline minus every bigram that touches a particle/ending (혈압약은 → 혈압 압약)
  fuse_a             TWO fields, strip_lv (whole stems) and stembi_lv (stem bigrams), each its own
                     BM25 (own df/length norm), score = BM25(strip_lv) + a * BM25(stembi_lv)
                     (= a multi-field OR query with a field boost); a in FUSE_ALPHAS
  fuseB_a            same with the unchanged baseline `bigram` field as the second field
  {strip,stembi}_lv_min2  ablation: min stem 2 for every suffix (glue rule kept)
  {strip,stembi}_lv_min1  ablation: min stem 1 for every suffix (국가 → 국, 결과 → 결; glue rule kept)
"""
import argparse, collections, json, os, re, subprocess, sys, time, zipfile, html as htmlmod

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_ko as ck  # noqa: E402

# ------------------------------------------------------------------ suffix inventory
# Case and auxiliary particles (조사).
CASE = ['이', '가', '을', '를', '의', '에', '에서', '에게', '에게서', '께', '께서', '한테', '한테서',
        '로', '으로', '로서', '으로서', '로써', '으로써', '와', '과', '랑', '이랑']
AUX = ['은', '는', '도', '만', '까지', '부터', '조차', '마저', '마다', '밖에', '처럼', '보다', '만큼',
       '뿐', '이나', '나', '이라도', '라도', '이든지', '든지']  # bare 든/이든 left out: 모든, 만든
# Stacked particles: a locative/instrumental/comitative/limit particle followed by 는 도 만 의.
STACK_HEAD = ['에', '에서', '에게', '에게서', '께', '한테', '로', '으로', '로서', '으로서', '와', '과',
              '까지', '부터', '보다']
STACK_TAIL = ['는', '도', '만', '의']
ONLY = ['만은', '만을', '만이', '만의', '만으로', '뿐만', '뿐이다']  # 만/뿐 + case
PARTICLES = CASE + AUX + [h + t for h in STACK_HEAD for t in STACK_TAIL] + ONLY
PARTICLES += ['들'] + ['들' + p for p in PARTICLES]  # plural 들 before any particle
# Copula 이다 forms (attach to nouns). Bare 인/일 excluded: 도메인, 로그인, 파일, 프로파일 …
COPULA = ['이다', '입니다', '입니까', '이며', '이고', '이지만', '이면', '이라면', '이라', '이라고', '이라는',
          '라는', '라고', '이란', '인지', '인가', '인가요', '인데', '이었다', '였다', '이었습니다', '였습니다',
          '이에요', '예요', '이죠']
# Sentence-final / connective verb-adjective endings (어미) of >= 2 syllables; none ends a noun.
ENDINGS = ['습니다', '습니까', '나요', '가요', '까요', '어요', '아요', '여요', '에요', '세요', '지요',
           '는지', '는가', '는데', '은데', '지만', '으면', '으려면', '려면', '려고', '으려고', '도록',
           '어서', '아서', '어야', '아야', '어도', '아도', '으며', '었다', '았다', '는다',
           '었습니다', '았습니다', '겠습니다']
# 에 and 와 are NOT here: no common noun ends in them (안에 → 안, 중에 → 중, 바와 → 바).
AMBIG = {'이', '가', '의', '도', '만', '과', '로', '나', '들', '께'}  # 께: 함께
SUFFIXES = sorted(set(PARTICLES + COPULA + ENDINGS), key=lambda x: (-len(x), x))
SUFFIX_SET = set(SUFFIXES)
MAXLEN = max(map(len, SUFFIXES))

LV_FORMS = ['하', '해', '했', '한', '할', '함', '합', '되', '돼', '됐', '된', '될', '됨', '됩',
            '시키', '시켜', '시켰', '시킨', '시킬']
LV_END = {'', '다', '는', '고', '며', '면', '여', '여서', '여야', '여도', '였', '였다', '지', '지만', '기',
          '게', '도록', '려면', '려고', '려는', '는데', '는지', '는가', '나', '나요', '니다', '니까', '세요',
          '시오', '십시오', '시면', '신', '실', '셨', '서', '야', '도', '요', '라', '라고', '라는', '어',
          '어서', '어야', '어도', '었', '었다', '던', '든지', '자', '죠', '겠', '면서', '기도', '기는'}


def min_stem(suf, tiers):
    if tiers == 'min1':
        return 1
    if tiers == 'min2':
        return 2
    return 2 if suf in AMBIG else 1


def has_b_coda(c):  # Hangul syllable with final consonant ㅂ (jongseong index 17)
    return '가' <= c <= '힣' and (ord(c) - 0xAC00) % 28 == 17


def strip_suffix(w, glued=False, tiers='tiered'):
    floor = lambda suf: 0 if glued else min_stem(suf, tiers)
    for n in range(min(MAXLEN, len(w)), 0, -1):
        suf = w[-n:]
        if suf in SUFFIX_SET and len(w) - n >= floor(suf):
            return w[:-n]
        # ㅂ니다 / ㅂ니까: 설치합니다 -> 설치하
        if n == 2 and suf in ('니다', '니까') and len(w) >= 3 and has_b_coda(w[-3]) and w[-3] != '습' \
                and len(w) - 2 >= floor('니다'):
            return w[:-3] + chr(ord(w[-3]) - 17)
    return w


LV_FIRST = {f[0] for f in LV_FORMS}


def light_verb(t):
    for i in range(2, len(t)):
        if t[i] not in LV_FIRST:
            continue
        for f in LV_FORMS:
            if t.startswith(f, i) and t[i + len(f):] in LV_END:
                return t[:i]
    return None


def stems(s, lv=False, tiers='tiered'):
    """(stem, original eojeol) per Hangul run of the lowercased text; empty stems dropped."""
    s = s.lower()
    for m in re.finditer(r'[가-힣]+', s):
        w = m.group()
        glued = m.start() > 0 and re.match(r'[a-z0-9]', s[m.start() - 1]) is not None
        st = strip_suffix(w, glued, tiers)
        if lv:
            for t in (st, w):
                r = light_verb(t)
                if r:
                    st = r
                    break
        if st:
            yield st, w


def bigrams(x):
    return [x[i:i + 2] for i in range(len(x) - 1)] if len(x) > 1 else [x]


def make(mode, lv=False, tiers='tiered'):
    def tok(text):
        out = ck.words(text)
        for st, _ in stems(text, lv, tiers):
            if mode == 'strip':
                out.append(st)
            elif mode == 'stripbi':
                out += [st] + bigrams(st) if len(st) > 2 else [st]
            else:  # stembi
                out += bigrams(st)
        return out
    tok.__name__ = mode + ('_lv' if lv else '') + ('' if tiers == 'tiered' else '_' + tiers)
    return tok


VARIANTS = {'strip': make('strip'), 'strip_lv': make('strip', True),
            'stripbi': make('stripbi'), 'stripbi_lv': make('stripbi', True),
            'stembi': make('stembi'), 'stembi_lv': make('stembi', True),
            'strip_lv_min2': make('strip', True, 'min2'), 'strip_lv_min1': make('strip', True, 'min1'),
            'stembi_lv_min2': make('stembi', True, 'min2'), 'stembi_lv_min1': make('stembi', True, 'min1')}


FUSE = ('strip_lv', 'stembi_lv')
FUSE_ALPHAS = (0.25, 0.5, 1.0)
FUSE_B = ('strip_lv', 'bigram')  # second field = the current product bigram field, unchanged
FUSE_B_ALPHAS = (0.25, 0.5)


def fuse_name(a, pair=FUSE):
    return ('fuse_' if pair == FUSE else 'fuseB_') + f'{a:g}'


def scores(ix, q):  # ck.BM25.search without the cut: {doc: score}
    sc = collections.defaultdict(float)
    for t in set(ix.tok(q)):
        if t not in ix.df:
            continue
        idf = ck.math.log(1 + (ix.N - ix.df[t] + .5) / (ix.df[t] + .5))
        for i, c in ix.inv[t]:
            sc[i] += idf * c * (ck.K1 + 1) / (c + ck.K1 * (1 - ck.B + ck.B * ix.dl[i] / ix.avg))
    return sc


def fused_search(idx, q, a, pair=FUSE):
    sc = collections.defaultdict(float)
    for w, n in ((1.0, pair[0]), (a, pair[1])):
        for i, v in scores(idx[n], q).items():
            sc[i] += w * v
    return [i for i, _ in sorted(sc.items(), key=lambda x: -x[1])[:ck.DEPTH]]


def searchers(texts, toks):
    idx = {n: ck.BM25(texts, t) for n, t in toks.items()}
    out = {n: ix.search for n, ix in idx.items()}
    if all(n in idx for n in FUSE):
        for a in FUSE_ALPHAS:
            out[fuse_name(a)] = lambda q, a=a: fused_search(idx, q, a)
    if all(n in idx for n in FUSE_B):
        for a in FUSE_B_ALPHAS:
            out[fuse_name(a, FUSE_B)] = lambda q, a=a: fused_search(idx, q, a, FUSE_B)
    return out


# ------------------------------------------------------------------ evaluation
def evaluate(d, toks, base='bigram', ref='mecab'):
    docs, qs, qrels = ck.load(d)
    ids, texts = [x['_id'] for x in docs], [(x.get('title') or '') + ' ' + x['text'] for x in docs]
    idx = searchers(texts, toks)
    runs = collections.defaultdict(list)
    for q in qs:
        for n, search in idx.items():
            rank = search(q['text'])
            runs[n].append(ck.metrics([ids[i] for i in rank if ids[i] != q.get('exclude')], qrels[q['_id']]))
    out = {}
    for n, per in runs.items():
        out[n] = {m: sum(p[m] for p in per) / len(per) for m in per[0]}
        out[n]['queries'], out[n]['docs'] = len(per), len(docs)
        for other, key in ((base, 'p_nDCG_vs_bigram'), (ref, 'p_nDCG_vs_mecab')):
            if n != other and other in runs:
                out[n][key] = ck.sign_flip_p([p['nDCG@10'] for p in per], [p['nDCG@10'] for p in runs[other]])
    return out


# ------------------------------------------------------------------ sample library (robustness)
SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'samples')


def sample_text(f):
    p, fmt = os.path.join(SAMPLES, 'library', f['path']), f['format']
    if fmt == 'pdf':
        return subprocess.run(['pdftotext', '-enc', 'UTF-8', p, '-'], capture_output=True, check=True).stdout.decode()
    if fmt == 'docx':
        z, out = zipfile.ZipFile(p), []
        for n in z.namelist():
            if re.match(r'word/(document|header\d*|footer\d*)\.xml$', n):
                x = re.sub(r'</w:p>|<w:tab/>|<w:br/>|</w:tc>', '\n', z.read(n).decode())
                out.append(htmlmod.unescape(re.sub(r'<[^>]+>', '', x)))
        return '\n'.join(out)
    raw, enc = open(p, 'rb').read(), f.get('encoding', 'utf-8')
    t = raw[2:].decode('utf-16-le') if enc == 'utf-16le' else raw.decode('cp949' if enc == 'cp949' else 'utf-8-sig')
    if fmt == 'html':
        t = re.sub(r'(?is)<(script|style)\b.*?</\1>|<!--.*?-->', '', t)
        t = htmlmod.unescape(re.sub(r'<[^>]+>', ' ', t))
    return t


def sample_checks(toks):
    man = json.load(open(os.path.join(SAMPLES, 'manifest.json'), encoding='utf-8'))
    files = [f['path'] for f in man['files']]
    texts = {f['path']: sample_text(f) for f in man['files']}
    qa = [json.loads(l) for l in open(os.path.join(SAMPLES, 'qa.jsonl'), encoding='utf-8')]
    kw = {}
    for q in qa:
        if q.get('keyword'):
            doc = texts[q['file']]
            forms = sorted(set(re.findall(r'[가-힣]*' + q['keyword'] + r'[가-힣]*', doc)))
            row = {'id': q['id'], 'keyword': q['keyword'], 'file': q['file'], 'doc_forms': forms, 'variants': {}}
            for n, t in toks.items():
                qt, dt = set(t(q['keyword'])), set(t(doc))
                row['variants'][n] = {'query_tokens': sorted(qt), 'missing': sorted(qt - dt),
                                      'all_match': qt <= dt, 'any_match': bool(qt & dt)}
            for pair, alphas in ((FUSE, FUSE_ALPHAS), (FUSE_B, FUSE_B_ALPHAS)):
                if not all(n in toks for n in pair):
                    continue
                f0, f1 = (row['variants'][n] for n in pair)  # two fields: a match in either counts
                for a in alphas:
                    row['variants'][fuse_name(a, pair)] = {
                        'query_tokens': f0['query_tokens'] + f1['query_tokens'],
                        'missing': f0['missing'] if f1['all_match'] else f1['missing'],
                        'all_match': f0['all_match'] or f1['all_match'],
                        'any_match': f0['any_match'] or f1['any_match']}
            kw[q['id']] = row
    # Generalised keyword check: every distinct stem (>= 2 syllables, strip_lv) of the Korean questions
    # as a one-word query; gold = files containing it as a raw substring (compound-internal included).
    doc_toks = {n: {f: set(t(texts[f])) for f in files} for n, t in toks.items()}
    words_ = sorted({st for q in qa if q['lang'] == 'ko' for st, _ in stems(q['question'], True) if len(st) >= 2})
    sub = {}
    pairs = [(n, (n,)) for n in toks]
    for pair, alphas in ((FUSE, FUSE_ALPHAS), (FUSE_B, FUSE_B_ALPHAS)):
        if all(n in toks for n in pair):
            pairs.append((fuse_name(alphas[0], pair).rsplit('_', 1)[0] + '_*', pair))
    for name, fields in pairs:
        g_all = hit = extra = 0
        for w in words_:
            gold = {f for f in files if w in texts[f].lower()}
            got = {f for f in files if any(set(toks[n](w)) <= doc_toks[n][f] for n in fields)}
            g_all, hit, extra = g_all + len(gold), hit + len(gold & got), extra + len(got - gold)
        sub[name] = {'words': len(words_), 'gold_pairs': g_all, 'recall': hit / g_all, 'extra': extra}
    # file-level retrieval of every answerable question, by language
    qs = [q for q in qa if q.get('file')]
    ret = {}
    for n, search in searchers([texts[f] for f in files], toks).items():
        per = collections.defaultdict(list)
        for q in qs:
            rank = [files[i] for i in search(q['question'])]
            gold = {q['file'], *q.get('also_in', [])}
            r = next((i + 1 for i, f in enumerate(rank) if f in gold), None)
            per[q['lang']].append(r)
        ret[n] = {lang: {'n': len(rs), 'hit@1': sum(r == 1 for r in rs) / len(rs),
                         'MRR': sum(1 / r for r in rs if r) / len(rs)} for lang, rs in per.items()}
    return {'keywords': kw, 'substring_recall': sub, 'file_retrieval': ret}


def throughput(d, toks, min_s=2.0):
    toks = dict(toks)
    if all(n in toks for n in FUSE):  # both fields tokenized (a Rust version would share the stems)
        toks['fuse (both fields)'] = lambda s: toks[FUSE[0]](s) + toks[FUSE[1]](s)
    return ck.throughput(d, toks, min_s)


def coverage(d):
    """How often each suffix is stripped on the corpus (documentation, not tuning)."""
    docs, qs, _ = ck.load(d)
    c, n, changed = collections.Counter(), 0, 0
    for text in [x['text'] for x in docs] + [q['text'] for q in qs]:
        for st, w in stems(text, lv=True):
            n += 1
            if st != w:
                changed += 1
                c[w[len(st):] if w.startswith(st) else '(ㅂ니다)'] += 1
    return {'eojeols': n, 'changed': changed, 'top': c.most_common(40)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.path.expanduser('~/.cache/sillok-eval'))
    ap.add_argument('--sets', default='debfaq_ko,debfaq_xling')
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--no-mecab', action='store_true')
    ap.add_argument('--show')
    ap.add_argument('--suffixes', action='store_true')
    a = ap.parse_args()
    if a.suffixes:  # suffix <TAB> minimum stem syllables (0 when glued to [a-z0-9]); longest first
        print('\n'.join(f'{x}\t{min_stem(x, "tiered")}' for x in SUFFIXES))
        return
    toks = {'bigram': ck.bigram}
    if not a.no_mecab:
        toks['mecab'] = ck.Mecab()
    toks.update(VARIANTS)
    if a.show:
        for n, t in toks.items():
            print(f'{n:16s}', ' '.join(t(a.show)))
        return
    sets = a.sets.split(',')
    res = {'results': {s: evaluate(os.path.join(a.data, s), toks) for s in sets},
           'samples': sample_checks(toks),
           'coverage': coverage(os.path.join(a.data, sets[0])),
           'throughput_MBps': throughput(os.path.join(a.data, sets[0]), toks),
           'n_suffixes': len(SUFFIXES)}
    if a.json:
        print(json.dumps(res, indent=1, ensure_ascii=False))
        return
    cols = ['nDCG@10', 'R@10', 'MRR@10', 'R@100']
    fp = lambda p: '-' if p is None else '<0.001' if p < .001 else f'{p:.3f}'
    print('| set | variant | ' + ' | '.join(cols) + ' | p vs bigram | p vs mecab |')
    print('|---|---|' + '---|' * (len(cols) + 2))
    for s, r in res['results'].items():
        for n, m in r.items():
            print(f'| {s} (q={m["queries"]}) | {n} | ' + ' | '.join(f'{m[c]:.3f}' for c in cols)
                  + f' | {fp(m.get("p_nDCG_vs_bigram"))} | {fp(m.get("p_nDCG_vs_mecab"))} |')
    print('\nThroughput on ' + sets[0] + ' (MB/s, 1 Python thread): '
          + ', '.join(f'{k} {v}' for k, v in res['throughput_MBps'].items()))
    kw = res['samples']['keywords']
    print('\nSample-library keyword match (query = keyword alone; ✓ = all its tokens in the doc, '
          '~ = some, ✗ = none):\n')
    print('| variant | ' + ' | '.join(f'{r["id"]} {r["keyword"]}' for r in kw.values()) + ' | all |')
    print('|---|' + '---|' * (len(kw) + 1))
    for n in next(iter(kw.values()))['variants']:
        cells = ['✓' if r['variants'][n]['all_match'] else '~' if r['variants'][n]['any_match'] else '✗'
                 for r in kw.values()]
        print(f'| {n} | ' + ' | '.join(cells) + f' | {cells.count("✓")}/{len(cells)} |')
    print('\nDocument forms: ' + '; '.join(f'{r["keyword"]}: {" ".join(r["doc_forms"])}' for r in kw.values()))
    sr = res['samples']['substring_recall']
    w0 = next(iter(sr.values()))
    print(f'\nGeneralised: each of the {w0["words"]} distinct stems (>= 2 syllables) of the Korean questions as a '
          f'one-word query; gold = (stem, file) pairs where the file contains the stem as a substring '
          f'({w0["gold_pairs"]} pairs). recall = gold pairs whose file has all the query tokens; extra = '
          'files matched without the substring (bigrams out of order/apart):\n')
    print('| variant | recall | extra |\n|---|---|---|')
    for n, r in sr.items():
        print(f'| {n} | {r["recall"]:.3f} | {r["extra"]} |')
    print('\nSample-library file retrieval (question -> rank of its file among 27):\n')
    fr = res['samples']['file_retrieval']
    langs = sorted(next(iter(fr.values())))
    print('| variant | ' + ' | '.join(f'{l} hit@1 | {l} MRR' for l in langs) + ' |')
    print('|---|' + '---|---|' * len(langs))
    for n, r in fr.items():
        print(f'| {n} | ' + ' | '.join(f'{r[l]["hit@1"]:.3f} | {r[l]["MRR"]:.3f}' for l in langs) + ' |')
    print('\n(n = ' + ', '.join(f'{l} {fr[n][l]["n"]}' for l in langs) + ')')
    cv = res['coverage']
    print(f'\nCoverage ({sets[0]} docs+queries, strip_lv): {cv["changed"]}/{cv["eojeols"]} eojeols changed; top: '
          + ' '.join(f'{s}:{c}' for s, c in cv['top']))


if __name__ == '__main__':
    main()
