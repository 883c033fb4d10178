#!/usr/bin/env python3
"""Writes crate/tests/fixtures/multilingual-corpus.txt: the project's own sentences in Chinese,
English and eight other Latin-script languages (templates filled deterministically), plus a few
mixed-language lines, and a short set in other scripts (marked "other") to state what the
pruned vocabulary loses. One line per sentence: "<lang>\t<q|p>\t<text>". Re-running it gives the
same file."""
import itertools
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "crate", "tests", "fixtures", "multilingual-corpus.txt")

# (nouns, adjectives, templates); each template takes {a} adjective and {n} noun.
LANGS = {
    "en": (["cast iron skillet", "wool sweater", "garden hose", "mystery novel", "running shoes",
            "ceramic teapot", "travel backpack", "desk lamp", "vitamin C serum", "ukulele",
            "chef's knife", "yoga mat", "rain jacket", "board game", "espresso machine"],
           ["lightweight", "handmade", "affordable", "durable", "quiet", "vintage", "waterproof",
            "compact", "organic", "beginner-friendly"],
           ["A {a} {n} for everyday use.", "Looking for a {a} {n} under $50?",
            "Our {a} {n} ships in 2 days.", "Why every kitchen needs a {a} {n}.",
            "Reviews: the {a} {n} (4.5/5 stars).", "How to choose a {a} {n} as a gift",
            "{n}: {a}, tested for 30 days."]),
    "zh": (["铸铁煎锅", "羊毛毛衣", "花园水管", "推理小说", "跑步鞋", "陶瓷茶壶", "旅行背包",
            "台灯", "维生素C精华", "尤克里里", "厨师刀", "瑜伽垫", "雨衣", "桌游", "咖啡机"],
           ["轻便的", "手工制作的", "实惠的", "耐用的", "安静的", "复古的", "防水的", "小巧的",
            "有机的", "适合初学者的"],
           ["一款{a}{n}，适合日常使用。", "想找一款五十元以内的{a}{n}吗？",
            "我们的{a}{n}两天内发货。", "为什么每个厨房都需要一款{a}{n}。",
            "评测：这款{a}{n}（4.5/5 星）", "如何挑选{a}{n}作为礼物",
            "{n}：{a}，经过三十天测试。"]),
    "fr": (["poêle en fonte", "pull en laine", "tuyau d'arrosage", "roman policier",
            "chaussures de course", "théière en céramique", "sac à dos de voyage", "lampe de bureau",
            "sérum à la vitamine C", "ukulélé", "couteau de chef", "tapis de yoga",
            "veste de pluie", "jeu de société", "machine à expresso"],
           ["légère", "artisanale", "abordable", "durable", "silencieuse", "rétro",
            "imperméable", "compacte", "biologique", "idéale pour débutants"],
           ["Une {n} {a} pour tous les jours.", "Vous cherchez une {n} {a} à moins de 50 € ?",
            "Notre {n} {a} est expédiée en 2 jours.", "Pourquoi chaque cuisine a besoin d'une {n} {a}.",
            "Avis : la {n} {a} (4,5/5 étoiles).", "Comment choisir une {n} {a} en cadeau",
            "{n} : {a}, testée pendant 30 jours."]),
    "de": (["Gusseisenpfanne", "Wollpullover", "Gartenschlauch", "Kriminalroman", "Laufschuhe",
            "Keramikteekanne", "Reiserucksack", "Schreibtischlampe", "Vitamin-C-Serum", "Ukulele",
            "Kochmesser", "Yogamatte", "Regenjacke", "Brettspiel", "Espressomaschine"],
           ["leicht", "handgemacht", "günstig", "langlebig", "leise", "altmodisch", "wasserdicht",
            "kompakt", "biologisch", "anfängerfreundlich"],
           ["{n}, {a}, für jeden Tag.", "Suchen Sie {n} unter 50 €? {a} und gut.",
            "Unsere {n} ist {a} und in 2 Tagen da.", "Warum jede Küche {n} braucht: {a}!",
            "Bewertung: {n} ({a}, 4,5/5 Sterne).", "So wählen Sie {n} als Geschenk – {a}",
            "{n}: {a}, 30 Tage getestet. Größe ß/ä/ö/ü inklusive."]),
    "es": (["sartén de hierro fundido", "jersey de lana", "manguera de jardín", "novela de misterio",
            "zapatillas para correr", "tetera de cerámica", "mochila de viaje", "lámpara de escritorio",
            "sérum de vitamina C", "ukelele", "cuchillo de chef", "esterilla de yoga",
            "chaqueta impermeable", "juego de mesa", "cafetera espresso"],
           ["ligera", "artesanal", "económica", "duradera", "silenciosa", "vintage", "resistente",
            "compacta", "ecológica", "para principiantes"],
           ["Una {n} {a} para el día a día.", "¿Buscas una {n} {a} por menos de 50 €?",
            "Nuestra {n} {a} se envía en 2 días.", "¿Por qué toda cocina necesita una {n} {a}?",
            "Opiniones: la {n} {a} (4,5/5 estrellas).", "Cómo elegir una {n} {a} para regalar",
            "{n}: {a}, probada durante 30 días. ¡Año nuevo!"]),
    "it": (["padella in ghisa", "maglione di lana", "tubo da giardino", "romanzo giallo",
            "scarpe da corsa", "teiera in ceramica", "zaino da viaggio", "lampada da scrivania",
            "siero alla vitamina C", "ukulele", "coltello da chef", "tappetino da yoga",
            "giacca antipioggia", "gioco da tavolo", "macchina per espresso"],
           ["leggera", "fatta a mano", "economica", "resistente", "silenziosa", "d'epoca",
            "impermeabile", "compatta", "biologica", "per principianti"],
           ["Una {n} {a} per tutti i giorni.", "Cerchi una {n} {a} sotto i 50 €?",
            "La nostra {n} {a} arriva in 2 giorni.", "Perché ogni cucina ha bisogno di una {n} {a}.",
            "Recensioni: la {n} {a} (4,5/5 stelle).", "Come scegliere una {n} {a} da regalare",
            "{n}: {a}, provata per 30 giorni. Così è."]),
    "pt": (["frigideira de ferro fundido", "camisola de lã", "mangueira de jardim",
            "romance policial", "ténis de corrida", "bule de cerâmica", "mochila de viagem",
            "candeeiro de secretária", "sérum de vitamina C", "cavaquinho", "faca de chef",
            "tapete de ioga", "casaco impermeável", "jogo de tabuleiro", "máquina de café"],
           ["leve", "artesanal", "acessível", "durável", "silenciosa", "antiga", "à prova de água",
            "compacta", "orgânica", "para iniciantes"],
           ["Uma {n} {a} para o dia a dia.", "Procura uma {n} {a} por menos de 50 €?",
            "A nossa {n} {a} é enviada em 2 dias.", "Porque é que cada cozinha precisa de uma {n} {a}.",
            "Avaliações: a {n} {a} (4,5/5 estrelas).", "Como escolher uma {n} {a} para oferecer",
            "{n}: {a}, testada durante 30 dias. Ação e atenção!"]),
    "nl": (["gietijzeren pan", "wollen trui", "tuinslang", "detectiveroman", "hardloopschoenen",
            "keramische theepot", "reisrugzak", "bureaulamp", "vitamine C-serum", "ukelele",
            "koksmes", "yogamat", "regenjas", "bordspel", "espressomachine"],
           ["lichte", "handgemaakte", "betaalbare", "duurzame", "stille", "ouderwetse",
            "waterdichte", "compacte", "biologische", "beginnersvriendelijke"],
           ["Een {a} {n} voor elke dag.", "Op zoek naar een {a} {n} onder € 50?",
            "Onze {a} {n} wordt binnen 2 dagen verzonden.", "Waarom elke keuken een {a} {n} nodig heeft.",
            "Beoordelingen: de {a} {n} (4,5/5 sterren).", "Hoe kies je een {a} {n} als cadeau",
            "{n}: {a}, 30 dagen getest. Één keer proberen!"]),
    "pl": (["patelnia żeliwna", "wełniany sweter", "wąż ogrodowy", "powieść kryminalna",
            "buty do biegania", "ceramiczny czajniczek", "plecak podróżny", "lampka biurkowa",
            "serum z witaminą C", "ukulele", "nóż szefa kuchni", "mata do jogi", "kurtka przeciwdeszczowa",
            "gra planszowa", "ekspres do kawy"],
           ["lekka", "ręcznie robiona", "tania", "trwała", "cicha", "zabytkowa", "wodoodporna",
            "kompaktowa", "ekologiczna", "dla początkujących"],
           ["{n} – {a}, na co dzień.", "Szukasz produktu: {n}, {a}, poniżej 50 zł?",
            "Nasza {n} ({a}) dotrze w 2 dni.", "Dlaczego każda kuchnia potrzebuje: {n}, {a}.",
            "Opinie: {n}, {a} (4,5/5 gwiazdek).", "Jak wybrać prezent: {n}, {a}",
            "{n}: {a}, testowana przez 30 dni. Źródło: żółć gęślą jaźń."]),
    "vi": (["chảo gang", "áo len", "vòi tưới vườn", "tiểu thuyết trinh thám", "giày chạy bộ",
            "ấm trà gốm", "ba lô du lịch", "đèn bàn", "serum vitamin C", "đàn ukulele",
            "dao đầu bếp", "thảm tập yoga", "áo mưa", "trò chơi cờ bàn", "máy pha cà phê"],
           ["nhẹ", "thủ công", "giá rẻ", "bền", "yên tĩnh", "cổ điển", "chống nước", "nhỏ gọn",
            "hữu cơ", "cho người mới bắt đầu"],
           ["Một chiếc {n} {a} cho mỗi ngày.", "Bạn tìm {n} {a} dưới 500.000 đồng?",
            "{n} {a} của chúng tôi giao trong 2 ngày.", "Vì sao mọi căn bếp cần {n} {a}.",
            "Đánh giá: {n} {a} (4,5/5 sao).", "Cách chọn {n} {a} làm quà tặng",
            "{n}: {a}, đã thử nghiệm 30 ngày."]),
}

MIXED = [
    "这款 cast iron skillet 非常适合初学者", "I love 推理小说 and mystery novels",
    "Café 和 茶: which one for the morning?", "新款 running shoes 限时 8 折", "买了一个 Ukulele，音色很好！",
    "Le 铸铁煎锅 est parfait pour les crêpes", "Die 咖啡机 ist leise und kompakt",
    "📚 推理小说 top 10 — 2026 edition", "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ 和半角 abc 123",
    "价格：¥199（含税），免运费。", "“引号”、《书名号》与「直角引号」", "Tab\tand\nnewline  and   spaces",
]

OTHER = [
    ("ru", "Чугунная сковорода для начинающих"), ("ru", "Лёгкий шерстяной свитер ручной работы"),
    ("el", "Αδιάβροχο μπουφάν για τη βροχή"), ("el", "Κεραμική τσαγιέρα για δώρο"),
    ("ar", "مقلاة من الحديد الزهر للمبتدئين"), ("ar", "حقيبة ظهر للسفر خفيفة الوزن"),
    ("he", "מחבת ברזל יצוק למתחילים"), ("hi", "शुरुआती लोगों के लिए कच्चा लोहा कड़ाही"),
    ("ja", "初心者向けの鋳鉄フライパン"), ("ja", "軽くて手作りのウールセーター"),
    ("ko", "초보자를 위한 주철 프라이팬"), ("ko", "가벼운 수제 울 스웨터"),
    ("th", "กระทะเหล็กหล่อสำหรับมือใหม่"), ("uk", "Чавунна пательня для початківців"),
]


def main():
    rng = random.Random(20261130)
    lines = []
    for lang, (nouns, adjectives, templates) in LANGS.items():
        combos = list(itertools.product(nouns, adjectives, templates))
        rng.shuffle(combos)
        for i, (n, a, t) in enumerate(combos[:220]):
            text = t.format(n=n, a=a)
            lines.append(f"{lang}\t{'q' if i % 4 == 0 else 'p'}\t{text}")
    for i, text in enumerate(MIXED):
        lines.append(f"mixed\t{'q' if i % 2 else 'p'}\t{text.replace(chr(9), ' ').replace(chr(10), ' ')}")
    for lang, text in OTHER:
        lines.append(f"other-{lang}\tp\t{text}")
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(lines)} lines -> {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
