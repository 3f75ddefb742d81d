"""Writes the knowledge-awareness data set (after Ferrando et al., "Do I Know This Entity?",
ICLR 2025): real entities of four types (city, person, book, team), very famous ones and
obscure ones a small model probably does not know, each with three easy attribute questions
whose accepted answers are listed as aliases, plus fabricated entities of the same types
(plausible names that refer to nothing) from two differently built generators, the prompt
frames, and generic everyday sentences used to drop SAE latents that fire on any text. Every
entity row carries an `origin`: famous, obscure (real), syllable, markov (fabricated).

All facts are public facts written for mindlens. Deterministic (seeded), Python 3.11,
standard library only. Validates its own output and prints a summary.

    python3 probes/knowledge/make_knowledge.py            # writes next to this script
    python3 probes/knowledge/make_knowledge.py --out DIR  # writes into DIR

Files: entities.jsonl, frames.json, generic.jsonl (see README.md).
"""
import argparse
import collections
import json
import math
import pathlib
import random
import re
import sys
import unicodedata

SEED = 20250127

# ---------------------------------------------------------------------------------------------
# Alias tables. Matching is a normalised (case-insensitive) substring match of any alias in the
# model's answer, so aliases are at least four characters long (the one exception is "USA") and
# never a bare two-letter code such as "US" or "UK" ("uk" would match "Ukraine").
# ---------------------------------------------------------------------------------------------

USA = ["United States", "USA", "America"]
UK_ENGLAND = ["England", "United Kingdom", "Britain"]
UK_SCOTLAND = ["Scotland", "United Kingdom", "Britain"]

COUNTRY = {
    "France": ["France"], "UK": UK_ENGLAND, "Scotland": UK_SCOTLAND, "Japan": ["Japan"],
    "USA": USA, "Germany": ["Germany"], "Spain": ["Spain"], "Italy": ["Italy"],
    "Russia": ["Russia", "Russian Federation"], "China": ["China"], "Egypt": ["Egypt"],
    "Australia": ["Australia"], "Canada": ["Canada"], "Mexico": ["Mexico"], "Brazil": ["Brazil"],
    "Argentina": ["Argentina"], "Portugal": ["Portugal"], "Netherlands": ["Netherlands", "Holland"],
    "Greece": ["Greece"], "Turkey": ["Turkey", "Türkiye", "Turkiye"], "Austria": ["Austria"],
    "Sweden": ["Sweden"], "Norway": ["Norway"], "Denmark": ["Denmark"], "Finland": ["Finland"],
    "Poland": ["Poland"], "Czechia": ["Czech Republic", "Czechia"], "Hungary": ["Hungary"],
    "Ireland": ["Ireland"], "South Korea": ["Korea"], "Thailand": ["Thailand"],
    "Vietnam": ["Vietnam", "Viet Nam"], "Indonesia": ["Indonesia"], "India": ["India"],
    "Iran": ["Iran", "Persia"], "Iraq": ["Iraq"], "Saudi Arabia": ["Saudi Arabia"],
    "Morocco": ["Morocco"], "New Zealand": ["New Zealand"], "Peru": ["Peru"],
    "Colombia": ["Colombia"], "Cuba": ["Cuba"], "Ukraine": ["Ukraine"],
    "Switzerland": ["Switzerland"], "Belgium": ["Belgium"], "Syria": ["Syria"],
    "Lebanon": ["Lebanon"],
}

CONTINENT = {
    "Europe": ["Europe"], "Asia": ["Asia"], "Africa": ["Africa"],
    "North America": ["North America"], "South America": ["South America"],
    "Oceania": ["Oceania", "Australia", "Australasia"],
    "Europe/Asia": ["Europe", "Asia", "Eurasia"],
    "Caribbean": ["North America", "Caribbean"],
}

LANGUAGE = {
    "French": ["French"], "English": ["English"], "Japanese": ["Japanese"], "German": ["German"],
    "Spanish": ["Spanish", "Castilian"], "Italian": ["Italian"], "Russian": ["Russian"],
    "Chinese": ["Chinese", "Mandarin"], "Arabic": ["Arabic"], "Portuguese": ["Portuguese"],
    "Dutch": ["Dutch"], "Greek": ["Greek"], "Turkish": ["Turkish"], "Swedish": ["Swedish"],
    "Norwegian": ["Norwegian"], "Danish": ["Danish"], "Finnish": ["Finnish"],
    "Polish": ["Polish"], "Czech": ["Czech"], "Hungarian": ["Hungarian", "Magyar"],
    "Korean": ["Korean"], "Thai": ["Thai"], "Vietnamese": ["Vietnamese"],
    "Indonesian": ["Indonesian", "Bahasa"], "Hindi": ["Hindi"], "Persian": ["Persian", "Farsi"],
    "Ukrainian": ["Ukrainian"], "Spanish/Catalan": ["Spanish", "Catalan", "Castilian"],
    "English/Spanish": ["English", "Spanish"], "Ukrainian/Russian": ["Ukrainian", "Russian"], "French/Dutch": ["French", "Dutch", "Flemish"],
}

NATIONALITY = {
    "american": ["American"] + USA,
    "english": ["English", "British"] + UK_ENGLAND,
    "scottish": ["Scottish", "British"] + UK_SCOTLAND,
    "irish": ["Irish", "Ireland"],
    "french": ["French", "France"], "german": ["German", "Germany"],
    "italian": ["Italian", "Italy"], "spanish": ["Spanish", "Spain"],
    "russian": ["Russian", "Russia", "Soviet"], "polish": ["Polish", "Poland"],
    "austrian": ["Austrian", "Austria"], "dutch": ["Dutch", "Netherlands", "Holland"],
    "swiss": ["Swiss", "Switzerland"], "portuguese": ["Portuguese", "Portugal"],
    "brazilian": ["Brazilian", "Brazil"], "argentine": ["Argentine", "Argentinian", "Argentina"],
    "jamaican": ["Jamaican", "Jamaica"], "mexican": ["Mexican", "Mexico"],
    "south_african": ["South African", "South Africa"], "indian": ["Indian", "India"],
    "serbian": ["Serbian", "Serbia"], "canadian": ["Canadian", "Canada"],
    "colombian": ["Colombian", "Colombia"], "nigerian": ["Nigerian", "Nigeria"],
    "genoese": ["Genoese", "Genoa"], "welsh": ["Welsh", "Wales"], "norwegian": ["Norwegian"],
}

CENTURY = {
    15: ["15th", "fifteenth", "1400s"], 16: ["16th", "sixteenth", "1500s"],
    17: ["17th", "seventeenth", "1600s"], 18: ["18th", "eighteenth", "1700s"],
    19: ["19th", "nineteenth", "1800s"], 20: ["20th", "twentieth", "1900s"],
    21: ["21st", "twenty-first", "twenty first", "2000s"],
}


def century_of(year):
    """Century by the usual convention: 1801-1900 is the 19th century."""
    return (year - 1) // 100 + 1


def nat(*keys):
    out = []
    for k in keys:
        out += NATIONALITY[k]
    return out


# ---------------------------------------------------------------------------------------------
# Cities: (name, country key, continent key, language key)
# ---------------------------------------------------------------------------------------------

CITIES = [
    ("Paris", "France", "Europe", "French"), ("London", "UK", "Europe", "English"),
    ("Tokyo", "Japan", "Asia", "Japanese"), ("New York City", "USA", "North America", "English"),
    ("Berlin", "Germany", "Europe", "German"), ("Madrid", "Spain", "Europe", "Spanish"),
    ("Rome", "Italy", "Europe", "Italian"), ("Moscow", "Russia", "Europe", "Russian"),
    ("Beijing", "China", "Asia", "Chinese"), ("Cairo", "Egypt", "Africa", "Arabic"),
    ("Sydney", "Australia", "Oceania", "English"), ("Los Angeles", "USA", "North America", "English/Spanish"),
    ("Chicago", "USA", "North America", "English"), ("Toronto", "Canada", "North America", "English"),
    ("Mexico City", "Mexico", "North America", "Spanish"),
    ("Rio de Janeiro", "Brazil", "South America", "Portuguese"),
    ("São Paulo", "Brazil", "South America", "Portuguese"),
    ("Buenos Aires", "Argentina", "South America", "Spanish"),
    ("Lisbon", "Portugal", "Europe", "Portuguese"), ("Amsterdam", "Netherlands", "Europe", "Dutch"),
    ("Athens", "Greece", "Europe", "Greek"), ("Istanbul", "Turkey", "Europe/Asia", "Turkish"),
    ("Vienna", "Austria", "Europe", "German"), ("Stockholm", "Sweden", "Europe", "Swedish"),
    ("Oslo", "Norway", "Europe", "Norwegian"), ("Copenhagen", "Denmark", "Europe", "Danish"),
    ("Helsinki", "Finland", "Europe", "Finnish"), ("Warsaw", "Poland", "Europe", "Polish"),
    ("Prague", "Czechia", "Europe", "Czech"), ("Budapest", "Hungary", "Europe", "Hungarian"),
    ("Dublin", "Ireland", "Europe", "English"), ("Edinburgh", "Scotland", "Europe", "English"),
    ("Seoul", "South Korea", "Asia", "Korean"), ("Bangkok", "Thailand", "Asia", "Thai"),
    ("Hanoi", "Vietnam", "Asia", "Vietnamese"), ("Jakarta", "Indonesia", "Asia", "Indonesian"),
    ("New Delhi", "India", "Asia", "Hindi"), ("Tehran", "Iran", "Asia", "Persian"),
    ("Baghdad", "Iraq", "Asia", "Arabic"), ("Riyadh", "Saudi Arabia", "Asia", "Arabic"),
    ("Casablanca", "Morocco", "Africa", "Arabic"), ("Venice", "Italy", "Europe", "Italian"),
    ("Milan", "Italy", "Europe", "Italian"), ("Florence", "Italy", "Europe", "Italian"),
    ("Naples", "Italy", "Europe", "Italian"), ("Munich", "Germany", "Europe", "German"),
    ("Hamburg", "Germany", "Europe", "German"), ("Barcelona", "Spain", "Europe", "Spanish/Catalan"),
    ("Seville", "Spain", "Europe", "Spanish"), ("Kyoto", "Japan", "Asia", "Japanese"),
    ("Osaka", "Japan", "Asia", "Japanese"), ("Shanghai", "China", "Asia", "Chinese"),
    ("San Francisco", "USA", "North America", "English"), ("Boston", "USA", "North America", "English"),
    ("Miami", "USA", "North America", "English/Spanish"),
    ("Las Vegas", "USA", "North America", "English"), ("Seattle", "USA", "North America", "English"),
    ("Houston", "USA", "North America", "English"), ("Vancouver", "Canada", "North America", "English"),
    ("Montreal", "Canada", "North America", "French"), ("Melbourne", "Australia", "Oceania", "English"),
    ("Auckland", "New Zealand", "Oceania", "English"), ("Lima", "Peru", "South America", "Spanish"),
    ("Bogotá", "Colombia", "South America", "Spanish"), ("Havana", "Cuba", "Caribbean", "Spanish"),
    ("Saint Petersburg", "Russia", "Europe", "Russian"), ("Kyiv", "Ukraine", "Europe", "Ukrainian/Russian"),
    ("Geneva", "Switzerland", "Europe", "French"), ("Zurich", "Switzerland", "Europe", "German"),
    ("Brussels", "Belgium", "Europe", "French/Dutch"), ("Lyon", "France", "Europe", "French"),
    ("Marseille", "France", "Europe", "French"), ("Manchester", "UK", "Europe", "English"),
    ("Liverpool", "UK", "Europe", "English"), ("Porto", "Portugal", "Europe", "Portuguese"),
    ("Kraków", "Poland", "Europe", "Polish"), ("Mecca", "Saudi Arabia", "Asia", "Arabic"),
    ("Damascus", "Syria", "Asia", "Arabic"), ("Beirut", "Lebanon", "Asia", "Arabic"),
    ("Ho Chi Minh City", "Vietnam", "Asia", "Vietnamese"),
]

CITY_Q = [
    ("country", "Which country is the city of {name} in?"),
    ("continent", "Which continent is the city of {name} in?"),
    ("language", "What language do most people speak in {name}?"),
]

# ---------------------------------------------------------------------------------------------
# People: (name, nationality aliases, profession aliases, third) where third is a birth year
# (question: century of birth) or a sport key (question: sport).
# ---------------------------------------------------------------------------------------------

PHYSICIST = ["physicist", "physics", "scientist"]
PAINTER = ["painter", "artist", "painting"]
COMPOSER = ["composer", "musician", "pianist"]
SINGER = ["singer", "musician", "songwriter"]
WRITER = ["writer", "author", "novelist"]
PRESIDENT = ["president", "politician", "statesman", "leader"]
ACTOR = ["actor", "actress", "film star", "movie star"]
BUSINESS = ["entrepreneur", "businessman", "business magnate", "executive", "founder"]

SPORT_PROFESSION = {
    "football": ["footballer", "football", "soccer"],
    "basketball": ["basketball"],
    "tennis": ["tennis"],
    "sprint": ["sprinter", "runner", "athlete", "sprint", "track"],
    "boxing": ["boxer", "boxing"],
    "golf": ["golfer", "golf"],
    "swimming": ["swimmer", "swimming"],
    "f1": ["racing driver", "driver", "racer", "racing", "Formula One", "Formula 1"],
    "hockey": ["hockey"],
    "baseball": ["baseball"],
}
SPORT_NAME = {
    "football": ["football", "soccer"], "basketball": ["basketball"], "tennis": ["tennis"],
    "sprint": ["athletics", "sprint", "running", "track"], "boxing": ["boxing"],
    "golf": ["golf"], "swimming": ["swimming"],
    "f1": ["Formula One", "Formula 1", "motor racing", "motorsport", "racing"],
    "hockey": ["hockey"], "baseball": ["baseball"],
}

PEOPLE = [
    ("Albert Einstein", nat("german", "swiss", "american"), PHYSICIST, 1879),
    ("Isaac Newton", nat("english"), PHYSICIST + ["mathematician", "mathematics"], (1642, 1643)),
    ("Charles Darwin", nat("english"), ["naturalist", "biologist", "scientist", "biology", "evolution", "geologist"], 1809),
    ("Marie Curie", nat("polish", "french"), PHYSICIST + ["chemist", "chemistry"], 1867),
    ("Galileo Galilei", nat("italian"), ["astronomer", "astronomy", "physicist", "scientist", "mathematician"], 1564),
    ("Nikola Tesla", nat("serbian", "american"), ["inventor", "engineer", "scientist", "physicist"], 1856),
    ("Thomas Edison", nat("american"), ["inventor", "businessman", "scientist", "engineer"], 1847),
    ("Stephen Hawking", nat("english"), PHYSICIST + ["cosmologist"], 1942),
    ("Sigmund Freud", nat("austrian"), ["psychoanalyst", "psychoanalysis", "psychologist", "psychology", "psychiatrist", "neurologist", "doctor", "physician"], 1856),
    ("Leonardo da Vinci", nat("italian"), PAINTER + ["inventor", "scientist", "polymath", "engineer", "sculptor"], 1452),
    ("Pablo Picasso", nat("spanish"), PAINTER + ["sculptor"], 1881),
    ("Vincent van Gogh", nat("dutch"), PAINTER, 1853),
    ("Michelangelo", nat("italian"), PAINTER + ["sculptor", "architect"], 1475),
    ("Claude Monet", nat("french"), PAINTER, 1840),
    ("Salvador Dalí", nat("spanish"), PAINTER + ["surrealist"], 1904),
    ("Frida Kahlo", nat("mexican"), PAINTER, 1907),
    ("Wolfgang Amadeus Mozart", nat("austrian"), COMPOSER, 1756),
    ("Ludwig van Beethoven", nat("german"), COMPOSER, 1770),
    ("Johann Sebastian Bach", nat("german"), COMPOSER + ["organist"], 1685),
    ("Frédéric Chopin", nat("polish", "french"), COMPOSER, 1810),
    ("Elvis Presley", nat("american"), SINGER + ["rock and roll", "actor"], 1935),
    ("Michael Jackson", nat("american"), SINGER + ["dancer", "entertainer", "pop star"], 1958),
    ("John Lennon", nat("english"), SINGER + ["guitarist", "Beatles"], 1940),
    ("Bob Marley", nat("jamaican"), SINGER + ["reggae"], 1945),
    ("Madonna", nat("american"), SINGER + ["entertainer", "pop star", "actress"], 1958),
    ("Taylor Swift", nat("american"), SINGER + ["pop star"], 1989),
    ("Beyoncé", nat("american"), SINGER + ["entertainer", "pop star"], 1981),
    ("Freddie Mercury", nat("english"), SINGER + ["Queen"], 1946),
    ("David Bowie", nat("english"), SINGER + ["rock star"], 1947),
    ("Frank Sinatra", nat("american"), SINGER + ["actor", "crooner"], 1915),
    ("William Shakespeare", nat("english"), WRITER + ["playwright", "poet", "dramatist"], 1564),
    ("Charles Dickens", nat("english"), WRITER, 1812),
    ("Mark Twain", nat("american"), WRITER + ["humorist"], 1835),
    ("Leo Tolstoy", nat("russian"), WRITER, 1828),
    ("Jane Austen", nat("english"), WRITER, 1775),
    ("Ernest Hemingway", nat("american"), WRITER + ["journalist"], 1899),
    ("J. K. Rowling", nat("english"), WRITER, 1965),
    ("Victor Hugo", nat("french"), WRITER + ["poet"], 1802),
    ("Agatha Christie", nat("english"), WRITER, 1890),
    ("Stephen King", nat("american"), WRITER, 1947),
    ("Abraham Lincoln", nat("american"), PRESIDENT + ["lawyer"], 1809),
    ("George Washington", nat("american"), PRESIDENT + ["general", "soldier"], 1732),
    ("Napoleon Bonaparte", nat("french"), ["emperor", "general", "military", "commander", "leader", "soldier", "statesman"], 1769),
    ("Winston Churchill", nat("english"), ["prime minister", "politician", "statesman", "leader"], 1874),
    ("Barack Obama", nat("american"), PRESIDENT + ["lawyer"], 1961),
    ("Nelson Mandela", nat("south_african"), PRESIDENT + ["activist", "revolutionary", "lawyer"], 1918),
    ("Mahatma Gandhi", nat("indian"), ["activist", "leader", "lawyer", "politician", "pacifist", "independence"], 1869),
    ("Queen Elizabeth II", nat("english"), ["queen of", "monarch", "sovereign", "royal", "head of state"], 1926),
    ("Martin Luther King Jr.", nat("american"), ["activist", "civil rights", "minister", "pastor", "preacher", "leader", "clergyman"], 1929),
    ("John F. Kennedy", nat("american"), PRESIDENT, 1917),
    ("Vladimir Putin", nat("russian"), PRESIDENT, 1952),
    ("Angela Merkel", nat("german"), ["chancellor", "politician", "leader", "stateswoman"], 1954),
    ("Charlie Chaplin", nat("english"), ACTOR + ["comedian", "filmmaker", "director"], 1889),
    ("Marilyn Monroe", nat("american"), ACTOR + ["model", "singer"], 1926),
    ("Tom Hanks", nat("american"), ACTOR + ["filmmaker"], 1956),
    ("Leonardo DiCaprio", nat("american"), ACTOR, 1974),
    ("Steve Jobs", nat("american"), BUSINESS + ["inventor", "Apple"], 1955),
    ("Bill Gates", nat("american"), BUSINESS + ["programmer", "philanthropist", "Microsoft"], 1955),
    ("Elon Musk", nat("south_african", "american", "canadian"), BUSINESS + ["engineer", "investor", "Tesla", "SpaceX"], 1971),
    ("Mark Zuckerberg", nat("american"), BUSINESS + ["programmer", "Facebook"], 1984),
    ("Walt Disney", nat("american"), ["animator", "animation", "producer", "filmmaker", "cartoonist"] + BUSINESS, 1901),
    ("Neil Armstrong", nat("american"), ["astronaut", "pilot", "engineer"], 1930),
    ("Yuri Gagarin", nat("russian"), ["cosmonaut", "astronaut", "pilot"], 1934),
    ("Christopher Columbus", nat("italian", "genoese"), ["explorer", "navigator", "sailor", "admiral"], 1451),
    ("Lionel Messi", nat("argentine"), None, "football"),
    ("Cristiano Ronaldo", nat("portuguese"), None, "football"),
    ("Pelé", nat("brazilian"), None, "football"),
    ("Diego Maradona", nat("argentine"), None, "football"),
    ("Zinedine Zidane", nat("french"), None, "football"),
    ("David Beckham", nat("english"), None, "football"),
    ("Michael Jordan", nat("american"), None, "basketball"),
    ("LeBron James", nat("american"), None, "basketball"),
    ("Usain Bolt", nat("jamaican"), None, "sprint"),
    ("Roger Federer", nat("swiss"), None, "tennis"),
    ("Serena Williams", nat("american"), None, "tennis"),
    ("Rafael Nadal", nat("spanish"), None, "tennis"),
    ("Novak Djokovic", nat("serbian"), None, "tennis"),
    ("Muhammad Ali", nat("american"), None, "boxing"),
    ("Mike Tyson", nat("american"), None, "boxing"),
    ("Tiger Woods", nat("american"), None, "golf"),
    ("Michael Phelps", nat("american"), None, "swimming"),
    ("Lewis Hamilton", nat("english"), None, "f1"),
    ("Wayne Gretzky", nat("canadian"), None, "hockey"),
    ("Babe Ruth", nat("american"), None, "baseball"),
]

PERSON_Q = [
    ("nationality", "What is the nationality of {name}?"),
    ("profession", "What is the profession of {name}?"),
]
PERSON_Q_CENTURY = ("birth_century", "In which century was {name} born?")
PERSON_Q_SPORT = ("sport", "Which sport is {name} famous for?")

# ---------------------------------------------------------------------------------------------
# Books: (title, author aliases (full name first), author nationality aliases, year published)
# ---------------------------------------------------------------------------------------------

AUSTEN = ["Jane Austen", "Austen"]
TOLSTOY = ["Leo Tolstoy", "Tolstoy", "Tolstoi"]
DOSTOEVSKY = ["Fyodor Dostoevsky", "Dostoevsky", "Dostoyevsky", "Dostoievsky"]
ORWELL = ["George Orwell", "Orwell"]
TOLKIEN = ["J. R. R. Tolkien", "Tolkien"]
DICKENS = ["Charles Dickens", "Dickens"]
HUGO = ["Victor Hugo", "Hugo"]
DUMAS = ["Alexandre Dumas", "Dumas"]
TWAIN = ["Mark Twain", "Twain", "Samuel Clemens"]
STEVENSON = ["Robert Louis Stevenson", "Stevenson"]
DOYLE = ["Arthur Conan Doyle", "Conan Doyle", "Doyle"]
HEMINGWAY = ["Ernest Hemingway", "Hemingway"]
STEINBECK = ["John Steinbeck", "Steinbeck"]
VERNE = ["Jules Verne", "Verne"]
WELLS = ["H. G. Wells", "H.G. Wells", "Wells"]

BOOKS = [
    ("Pride and Prejudice", AUSTEN, nat("english"), 1813),
    ("Sense and Sensibility", AUSTEN, nat("english"), 1811),
    ("Moby-Dick", ["Herman Melville", "Melville"], nat("american"), 1851),
    ("War and Peace", TOLSTOY, nat("russian"), 1869),
    ("Anna Karenina", TOLSTOY, nat("russian"), 1878),
    ("Crime and Punishment", DOSTOEVSKY, nat("russian"), 1866),
    ("The Brothers Karamazov", DOSTOEVSKY, nat("russian"), 1880),
    ("Don Quixote", ["Miguel de Cervantes", "Cervantes"], nat("spanish"), 1605),
    ("Nineteen Eighty-Four", ORWELL, nat("english"), 1949),
    ("Animal Farm", ORWELL, nat("english"), 1945),
    ("The Great Gatsby", ["F. Scott Fitzgerald", "Fitzgerald"], nat("american"), 1925),
    ("To Kill a Mockingbird", ["Harper Lee"], nat("american"), 1960),
    ("The Catcher in the Rye", ["J. D. Salinger", "Salinger"], nat("american"), 1951),
    ("Harry Potter and the Philosopher's Stone", ["J. K. Rowling", "J.K. Rowling", "Rowling"], nat("english"), 1997),
    ("The Hobbit", TOLKIEN, nat("english"), 1937),
    ("The Lord of the Rings", TOLKIEN, nat("english"), 1954),
    ("Frankenstein", ["Mary Shelley", "Shelley"], nat("english"), 1818),
    ("Dracula", ["Bram Stoker", "Stoker"], nat("irish"), 1897),
    ("Oliver Twist", DICKENS, nat("english"), 1838),
    ("A Tale of Two Cities", DICKENS, nat("english"), 1859),
    ("Great Expectations", DICKENS, nat("english"), 1861),
    ("A Christmas Carol", DICKENS, nat("english"), 1843),
    ("Les Misérables", HUGO, nat("french"), 1862),
    ("The Hunchback of Notre-Dame", HUGO, nat("french"), 1831),
    ("The Three Musketeers", DUMAS, nat("french"), 1844),
    ("The Count of Monte Cristo", DUMAS, nat("french"), 1844),
    ("Madame Bovary", ["Gustave Flaubert", "Flaubert"], nat("french"), 1857),
    ("The Adventures of Tom Sawyer", TWAIN, nat("american"), 1876),
    ("Adventures of Huckleberry Finn", TWAIN, nat("american"), 1884),
    ("Alice's Adventures in Wonderland", ["Lewis Carroll", "Carroll", "Charles Dodgson"], nat("english"), 1865),
    ("Treasure Island", STEVENSON, nat("scottish"), 1883),
    ("Strange Case of Dr Jekyll and Mr Hyde", STEVENSON, nat("scottish"), 1886),
    ("Robinson Crusoe", ["Daniel Defoe", "Defoe"], nat("english"), 1719),
    ("Gulliver's Travels", ["Jonathan Swift", "Swift"], nat("irish"), 1726),
    ("Jane Eyre", ["Charlotte Brontë", "Charlotte Bronte", "Brontë", "Bronte"], nat("english"), 1847),
    ("Wuthering Heights", ["Emily Brontë", "Emily Bronte", "Brontë", "Bronte"], nat("english"), 1847),
    ("The Picture of Dorian Gray", ["Oscar Wilde", "Wilde"], nat("irish"), 1890),
    ("The Adventures of Sherlock Holmes", DOYLE, nat("scottish"), 1892),
    ("The Hound of the Baskervilles", DOYLE, nat("scottish"), 1902),
    ("The Old Man and the Sea", HEMINGWAY, nat("american"), 1952),
    ("For Whom the Bell Tolls", HEMINGWAY, nat("american"), 1940),
    ("Of Mice and Men", STEINBECK, nat("american"), 1937),
    ("The Grapes of Wrath", STEINBECK, nat("american"), 1939),
    ("Brave New World", ["Aldous Huxley", "Huxley"], nat("english"), 1932),
    ("Lord of the Flies", ["William Golding", "Golding"], nat("english"), 1954),
    ("Fahrenheit 451", ["Ray Bradbury", "Bradbury"], nat("american"), 1953),
    ("One Hundred Years of Solitude", ["Gabriel García Márquez", "García Márquez", "Garcia Marquez", "Márquez", "Marquez"], nat("colombian"), 1967),
    ("The Little Prince", ["Antoine de Saint-Exupéry", "Saint-Exupéry", "Saint-Exupery", "Exupéry", "Exupery"], nat("french"), 1943),
    ("Ulysses", ["James Joyce", "Joyce"], nat("irish"), 1922),
    ("Little Women", ["Louisa May Alcott", "Alcott"], nat("american"), 1868),
    ("Uncle Tom's Cabin", ["Harriet Beecher Stowe", "Beecher Stowe", "Stowe"], nat("american"), 1852),
    ("The Call of the Wild", ["Jack London"], nat("american"), 1903),
    ("Around the World in Eighty Days", VERNE, nat("french"), 1872),
    ("Twenty Thousand Leagues Under the Seas", VERNE, nat("french"), 1870),
    ("Journey to the Centre of the Earth", VERNE, nat("french"), 1864),
    ("The Jungle Book", ["Rudyard Kipling", "Kipling"], nat("english"), 1894),
    ("Gone with the Wind", ["Margaret Mitchell", "Mitchell"], nat("american"), 1936),
    ("The Handmaid's Tale", ["Margaret Atwood", "Atwood"], nat("canadian"), 1985),
    ("The Da Vinci Code", ["Dan Brown"], nat("american"), 2003),
    ("The Hunger Games", ["Suzanne Collins", "Collins"], nat("american"), 2008),
    ("The Alchemist", ["Paulo Coelho", "Coelho"], nat("brazilian"), 1988),
    ("Lolita", ["Vladimir Nabokov", "Nabokov"], nat("russian", "american"), 1955),
    ("Catch-22", ["Joseph Heller", "Heller"], nat("american"), 1961),
    ("Slaughterhouse-Five", ["Kurt Vonnegut", "Vonnegut"], nat("american"), 1969),
    ("On the Road", ["Jack Kerouac", "Kerouac"], nat("american"), 1957),
    ("The Lion, the Witch and the Wardrobe", ["C. S. Lewis", "C.S. Lewis", "CS Lewis", "Lewis"], nat("english", "irish"), 1950),
    ("Charlie and the Chocolate Factory", ["Roald Dahl", "Dahl"], nat("english", "welsh", "norwegian"), 1964),
    ("Dune", ["Frank Herbert", "Herbert"], nat("american"), 1965),
    ("The Shining", ["Stephen King"], nat("american"), 1977),
    ("Anne of Green Gables", ["Lucy Maud Montgomery", "L. M. Montgomery", "Montgomery"], nat("canadian"), 1908),
    ("The Wind in the Willows", ["Kenneth Grahame", "Grahame"], nat("scottish"), 1908),
    ("Black Beauty", ["Anna Sewell", "Sewell"], nat("english"), 1877),
    ("Heidi", ["Johanna Spyri", "Spyri"], nat("swiss"), 1881),
    ("The Adventures of Pinocchio", ["Carlo Collodi", "Collodi"], nat("italian"), 1883),
    ("The Name of the Rose", ["Umberto Eco"], nat("italian"), 1980),
    ("Things Fall Apart", ["Chinua Achebe", "Achebe"], nat("nigerian"), 1958),
    ("Doctor Zhivago", ["Boris Pasternak", "Pasternak"], nat("russian"), 1957),
    ("Mrs Dalloway", ["Virginia Woolf", "Woolf"], nat("english"), 1925),
    ("The Time Machine", WELLS, nat("english"), 1895),
    ("The War of the Worlds", WELLS, nat("english"), 1898),
    ("The Godfather", ["Mario Puzo", "Puzo"], nat("american"), 1969),
    ("Middlemarch", ["George Eliot", "Eliot", "Mary Ann Evans"], nat("english"), 1871),
    ("The Scarlet Letter", ["Nathaniel Hawthorne", "Hawthorne"], nat("american"), 1850),
]

BOOK_Q = [
    ("author", "Who wrote the book {name}?"),
    ("author_nationality", "What nationality was the author of the book {name}?"),
    ("century", "In which century was the book {name} first published?"),
]

# ---------------------------------------------------------------------------------------------
# Teams: (name, sport key, city aliases, country key)
# ---------------------------------------------------------------------------------------------

TEAM_SPORT = {
    "football": ["football", "soccer"],
    "basketball": ["basketball"],
    "american_football": ["American football", "football", "gridiron"],
    "baseball": ["baseball"],
    "hockey": ["hockey"],
    "cricket": ["cricket"],
    "f1": ["Formula One", "Formula 1", "motor racing", "motorsport", "racing"],
}

LA = ["Los Angeles"]
NYC = ["New York"]
TEAMS = [
    ("Real Madrid", "football", ["Madrid"], "Spain"),
    ("FC Barcelona", "football", ["Barcelona"], "Spain"),
    ("Atlético Madrid", "football", ["Madrid"], "Spain"),
    ("Sevilla FC", "football", ["Seville", "Sevilla"], "Spain"),
    ("Valencia CF", "football", ["Valencia"], "Spain"),
    ("Manchester United", "football", ["Manchester"], "UK"),
    ("Manchester City", "football", ["Manchester"], "UK"),
    ("Liverpool FC", "football", ["Liverpool"], "UK"),
    ("Everton FC", "football", ["Liverpool"], "UK"),
    ("Chelsea FC", "football", ["London"], "UK"),
    ("Arsenal FC", "football", ["London"], "UK"),
    ("Tottenham Hotspur", "football", ["London"], "UK"),
    ("West Ham United", "football", ["London"], "UK"),
    ("Newcastle United", "football", ["Newcastle"], "UK"),
    ("Aston Villa", "football", ["Birmingham"], "UK"),
    ("Leeds United", "football", ["Leeds"], "UK"),
    ("Bayern Munich", "football", ["Munich", "München", "Munchen"], "Germany"),
    ("Borussia Dortmund", "football", ["Dortmund"], "Germany"),
    ("Bayer Leverkusen", "football", ["Leverkusen"], "Germany"),
    ("Schalke 04", "football", ["Gelsenkirchen"], "Germany"),
    ("Juventus", "football", ["Turin", "Torino"], "Italy"),
    ("AC Milan", "football", ["Milan", "Milano"], "Italy"),
    ("Inter Milan", "football", ["Milan", "Milano"], "Italy"),
    ("AS Roma", "football", ["Rome", "Roma"], "Italy"),
    ("SSC Napoli", "football", ["Naples", "Napoli"], "Italy"),
    ("Paris Saint-Germain", "football", ["Paris"], "France"),
    ("Olympique de Marseille", "football", ["Marseille", "Marseilles"], "France"),
    ("Olympique Lyonnais", "football", ["Lyon", "Lyons"], "France"),
    ("AFC Ajax", "football", ["Amsterdam"], "Netherlands"),
    ("PSV Eindhoven", "football", ["Eindhoven"], "Netherlands"),
    ("Feyenoord", "football", ["Rotterdam"], "Netherlands"),
    ("Celtic FC", "football", ["Glasgow"], "Scotland"),
    ("Rangers FC", "football", ["Glasgow"], "Scotland"),
    ("SL Benfica", "football", ["Lisbon", "Lisboa"], "Portugal"),
    ("FC Porto", "football", ["Porto", "Oporto"], "Portugal"),
    ("Sporting CP", "football", ["Lisbon", "Lisboa"], "Portugal"),
    ("Galatasaray", "football", ["Istanbul"], "Turkey"),
    ("Fenerbahçe", "football", ["Istanbul"], "Turkey"),
    ("Boca Juniors", "football", ["Buenos Aires"], "Argentina"),
    ("River Plate", "football", ["Buenos Aires"], "Argentina"),
    ("Flamengo", "football", ["Rio de Janeiro"], "Brazil"),
    ("Santos FC", "football", ["Santos"], "Brazil"),
    ("Corinthians", "football", ["São Paulo", "Sao Paulo"], "Brazil"),
    ("Palmeiras", "football", ["São Paulo", "Sao Paulo"], "Brazil"),
    ("LA Galaxy", "football", LA + ["Carson"], "USA"),
    ("Los Angeles Lakers", "basketball", LA, "USA"),
    ("Boston Celtics", "basketball", ["Boston"], "USA"),
    ("Chicago Bulls", "basketball", ["Chicago"], "USA"),
    ("Golden State Warriors", "basketball", ["San Francisco", "Oakland"], "USA"),
    ("Miami Heat", "basketball", ["Miami"], "USA"),
    ("New York Knicks", "basketball", NYC, "USA"),
    ("Houston Rockets", "basketball", ["Houston"], "USA"),
    ("San Antonio Spurs", "basketball", ["San Antonio"], "USA"),
    ("New England Patriots", "american_football", ["Foxborough", "Foxboro", "Boston", "New England"], "USA"),
    ("Dallas Cowboys", "american_football", ["Dallas", "Arlington"], "USA"),
    ("Green Bay Packers", "american_football", ["Green Bay"], "USA"),
    ("Pittsburgh Steelers", "american_football", ["Pittsburgh"], "USA"),
    ("San Francisco 49ers", "american_football", ["San Francisco", "Santa Clara"], "USA"),
    ("New York Giants", "american_football", NYC + ["East Rutherford"], "USA"),
    ("Kansas City Chiefs", "american_football", ["Kansas City"], "USA"),
    ("Chicago Bears", "american_football", ["Chicago"], "USA"),
    ("New York Yankees", "baseball", NYC + ["Bronx"], "USA"),
    ("Boston Red Sox", "baseball", ["Boston"], "USA"),
    ("Los Angeles Dodgers", "baseball", LA, "USA"),
    ("Chicago Cubs", "baseball", ["Chicago"], "USA"),
    ("San Francisco Giants", "baseball", ["San Francisco"], "USA"),
    ("St. Louis Cardinals", "baseball", ["St. Louis", "St Louis", "Saint Louis"], "USA"),
    ("Montreal Canadiens", "hockey", ["Montreal", "Montréal"], "Canada"),
    ("Toronto Maple Leafs", "hockey", ["Toronto"], "Canada"),
    ("Detroit Red Wings", "hockey", ["Detroit"], "USA"),
    ("Boston Bruins", "hockey", ["Boston"], "USA"),
    ("Chicago Blackhawks", "hockey", ["Chicago"], "USA"),
    ("New York Rangers", "hockey", NYC, "USA"),
    ("Mumbai Indians", "cricket", ["Mumbai", "Bombay"], "India"),
    ("Chennai Super Kings", "cricket", ["Chennai", "Madras"], "India"),
    ("Scuderia Ferrari", "f1", ["Maranello"], "Italy"),
    ("McLaren", "f1", ["Woking"], "UK"),
]

TEAM_Q = [
    ("sport", "Which sport does {name} compete in?"),
    ("city", "Which city is {name} based in?"),
    ("country", "Which country is {name} from?"),
]

# ---------------------------------------------------------------------------------------------
# Fabricated entities: built from invented syllables so that none names a real thing.
# ---------------------------------------------------------------------------------------------

ONSETS = ["b", "br", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "r", "s",
          "st", "t", "th", "tr", "v", "w", "z"]
VOWELS = ["a", "a", "e", "e", "i", "o", "o", "u", "ei", "au"]
CODAS = ["", "", "", "n", "r", "l", "s", "m", "nd", "rn", "st", "lt"]
CITY_SUFFIXES = ["", "", "", "", "burg", "ova", "stad", "ford", "ville", "grad", "mouth", "heim",
                 "ia", "port", "wick", "ton", "dale"]
SURNAME_SUFFIXES = ["", "", "son", "berg", "ez", "ini", "ov", "ski", "ford", "mann", "ard", "ier",
                    "ley", "holt", "ens", "aro", "ic", "ssen"]
FIRST_NAMES = [
    "Tobias", "Marta", "Elise", "Henrik", "Clara", "Anton", "Lucia", "Oskar", "Ines", "Viktor",
    "Greta", "Marcel", "Nadia", "Felix", "Irene", "Pavel", "Sofia", "Emil", "Rosa", "Julian",
    "Hanna", "Matteo", "Ada", "Ruben", "Leona", "Samuel", "Vera", "Dmitri", "Alma", "Colin",
    "Edith", "Ivo", "Maren", "Teodor", "Lydia", "Walter", "Nora", "Bruno", "Selma", "Ilse",
    "Agnes", "Laszlo", "Mirela", "Casper", "Yara", "Otto", "Helena", "Joaquim", "Petra", "Miriam",
]
BOOK_NOUNS = [
    "Lantern", "Orchard", "Harbour", "Clockmaker", "Cartographer", "Widow", "Lighthouse", "Tide",
    "Garden", "Bridge", "Glass", "Ember", "Weaver", "Archivist", "Ferryman", "Winter", "Vineyard",
    "Quarry", "Mapmaker", "Bell", "Mirror", "Heir", "Exile", "Keeper", "Tower", "Salt Road",
]
BOOK_PLURALS = ["Letters", "Daughters", "Songs", "Ashes", "Winters", "Orchards", "Bells", "Tides"]
BOOK_ADJS = ["Silent", "Last", "Crimson", "Hollow", "Distant", "Forgotten", "Quiet", "Burning",
             "Pale", "Northern", "Sunken", "Seventh", "Broken", "Lesser", "Gilded"]
TEAM_FOOTBALL = ["Rovers", "United", "Athletic", "Wanderers", "City", "Albion", "Town", "Olympic"]
TEAM_ANIMALS = ["Falcons", "Comets", "Stallions", "Foxes", "Herons", "Badgers", "Ravens",
                "Marlins", "Otters", "Hornets", "Bison", "Vipers", "Pumas", "Kestrels"]
# invented words that turned out to be real words, places or surnames (checked by eye)
BLOCKLIST = {"drakeville", "ferra", "saver", "barewick", "hostle", "brower", "waske", "denmor",
             "tetraport", "westnest", "dundmar"}
FIXED_WORDS = set(w.lower() for w in FIRST_NAMES + BOOK_ADJS + TEAM_FOOTBALL + TEAM_ANIMALS
                  + BOOK_PLURALS + " ".join(BOOK_NOUNS).split()) | {"the", "of", "and", "for", "fc", "a", "an", "from"}


def syllable_word(rng, n):
    """n invented syllables (onset + vowel + coda), no syllable used twice, no letter tripled."""
    parts = []
    while len(parts) < n:
        syl = rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
        if syl not in parts:
            parts.append(syl)
    word = "".join(parts)
    return re.sub(r"(.)\1+", r"\1\1", word)


def join(stem, suffix):
    """Stem + suffix without a vowel clash ("Hesvi" + "ia" gives "Hesvia", not "Hesviia")."""
    if suffix and suffix[0] in "aeiou" and stem[-1] in "aeiou":
        stem = stem.rstrip("aeiou") or stem
    return stem + suffix


def fake_place(rng):
    while True:
        w = join(syllable_word(rng, rng.choice([2, 2, 3])), rng.choice(CITY_SUFFIXES))
        w = re.sub(r"([^aeiou])\1([^aeiou])", r"\1\2", w)  # no doubled consonant before a consonant
        if 5 <= len(w) <= 11:
            return w.capitalize()


def fake_surname(rng):
    while True:
        w = join(syllable_word(rng, 2), rng.choice(SURNAME_SUFFIXES))
        w = re.sub(r"([^aeiou])\1([^aeiou])", r"\1\2", w)
        if 5 <= len(w) <= 10:
            return w.capitalize()


def fake_city(rng):
    return fake_place(rng)


def fake_person(rng):
    return f"{rng.choice(FIRST_NAMES)} {fake_surname(rng)}"


def fake_book(rng):
    place = fake_place(rng)
    noun = rng.choice(BOOK_NOUNS)
    adj = rng.choice(BOOK_ADJS)
    pattern = rng.randrange(6)
    if pattern == 0:
        return f"The {noun} of {place}"
    if pattern == 1:
        return f"The {adj} {noun} of {place}"
    if pattern == 2:
        return f"{rng.choice(FIRST_NAMES)} {fake_surname(rng)}'s {noun}"
    if pattern == 3:
        return f"{place} and the {adj} {noun}"
    if pattern == 4:
        return f"{rng.choice(BOOK_PLURALS)} from {place}"
    return f"The {rng.choice(BOOK_PLURALS)} of {place}"


def fake_team(rng):
    place = fake_place(rng)
    pattern = rng.randrange(3)
    if pattern == 0:
        return f"FC {place}"
    if pattern == 1:
        return f"{place} {rng.choice(TEAM_FOOTBALL)}"
    return f"{place} {rng.choice(TEAM_ANIMALS)}"


FAKERS = {"city": fake_city, "person": fake_person, "book": fake_book, "team": fake_team}

# ---------------------------------------------------------------------------------------------
# Obscure real entities (origin "obscure"): real entities a small model probably does not know,
# so that "unknown" is not the same as "fabricated". Same tuple formats and question templates as
# the famous ones above; only facts that are not in doubt, every defensible answer accepted.
# ---------------------------------------------------------------------------------------------

COUNTRY.update({
    "Faroe Islands": ["Faroe", "Faeroe", "Denmark"], "Estonia": ["Estonia"], "Armenia": ["Armenia"],
    "Malawi": ["Malawi"], "Cambodia": ["Cambodia", "Kampuchea"], "Albania": ["Albania"],
    "Bulgaria": ["Bulgaria"], "Lithuania": ["Lithuania"], "Slovakia": ["Slovakia", "Slovak Republic"],
    "Slovenia": ["Slovenia"], "Georgia": ["Georgia"], "Taiwan": ["Taiwan"], "Chile": ["Chile"],
    "Bolivia": ["Bolivia"], "Suriname": ["Suriname", "Surinam"], "Iceland": ["Iceland"],
    "Paraguay": ["Paraguay"], "Croatia": ["Croatia"], "Tunisia": ["Tunisia"],
    "South Africa": ["South Africa"], "Uruguay": ["Uruguay"], "Ecuador": ["Ecuador"],
})
LANGUAGE.update({
    "Faroese/Danish": ["Faroese", "Danish"], "Estonian": ["Estonian"], "Armenian": ["Armenian"],
    "Malawi north": ["Tumbuka", "Chichewa", "English"], "Khmer": ["Khmer", "Cambodian"],
    "Albanian": ["Albanian"], "Bulgarian": ["Bulgarian"], "Lithuanian": ["Lithuanian"],
    "Slovak": ["Slovak"], "Slovene": ["Slovene", "Slovenian"], "Georgian": ["Georgian"],
    "Taiwan": ["Mandarin", "Chinese", "Hokkien", "Taiwanese", "Hakka"],
    "Spanish/Quechua": ["Spanish", "Castilian", "Quechua"], "Dutch/Sranan": ["Dutch", "Sranan"],
    "Icelandic": ["Icelandic"], "Finnish/Swedish": ["Finnish", "Swedish"],
    "Dutch/Frisian": ["Dutch", "Frisian"],
})
NATIONALITY.update({
    "czech": ["Czech"], "moravian": ["Moravian"], "chilean": ["Chilean", "Chile"],
    "icelandic": ["Icelandic", "Iceland"], "japanese": ["Japanese", "Japan"],
    "finnish": ["Finnish", "Finland"], "norwegian_": ["Norwegian", "Norway"],
    "swedish": ["Swedish", "Sweden"], "danish": ["Danish", "Denmark"],
    "yugoslav": ["Yugoslav", "Yugoslavia", "Bosnian", "Croatian", "Serbian"],
    "hungarian": ["Hungarian", "Hungary"], "chinese": ["Chinese", "China"],
    "galician": ["Galician", "Galicia"], "egyptian": ["Egyptian", "Egypt"],
    "ethiopian": ["Ethiopian", "Ethiopia"], "sudanese": ["Sudanese", "Sudan"],
    "kenyan": ["Kenyan", "Kenya"], "venezuelan": ["Venezuelan", "Venezuela"],
    "peruvian": ["Peruvian", "Peru"],
})
SPORT_PROFESSION.update({
    "running": ["runner", "athlete", "athletics", "track"],
    "marathon": ["runner", "athlete", "athletics", "marathon"],
    "figure_skating": ["skater", "skating", "actress"],
    "goalkeeper": ["footballer", "football", "soccer", "goalkeeper", "goalie"],
})
SPORT_NAME.update({
    "running": ["athletics", "running", "track"],
    "marathon": ["athletics", "running", "marathon"],
    "figure_skating": ["skating"],
    "goalkeeper": ["football", "soccer"],
})
TEAM_SPORT.update({
    "rugby_league": ["rugby league", "rugby"],
    "rugby_union": ["rugby union", "rugby"],
    "aussie_rules": ["Australian rules", "Australian football", "Aussie rules", "football"],
})

OBSCURE_CITIES = [
    ("Kiruna", "Sweden", "Europe", "Swedish"), ("Oamaru", "New Zealand", "Oceania", "English"),
    ("Tórshavn", "Faroe Islands", "Europe", "Faroese/Danish"),
    ("Chefchaouen", "Morocco", "Africa", "Arabic"), ("Pärnu", "Estonia", "Europe", "Estonian"),
    ("Gyumri", "Armenia", "Europe/Asia", "Armenian"), ("Mzuzu", "Malawi", "Africa", "Malawi north"),
    ("Battambang", "Cambodia", "Asia", "Khmer"), ("Iquitos", "Peru", "South America", "Spanish"),
    ("Gjirokastër", "Albania", "Europe", "Albanian"), ("Plovdiv", "Bulgaria", "Europe", "Bulgarian"),
    ("Kaunas", "Lithuania", "Europe", "Lithuanian"), ("Košice", "Slovakia", "Europe", "Slovak"),
    ("Maribor", "Slovenia", "Europe", "Slovene"), ("Kutaisi", "Georgia", "Europe/Asia", "Georgian"),
    ("Chiang Rai", "Thailand", "Asia", "Thai"), ("Kanazawa", "Japan", "Asia", "Japanese"),
    ("Gyeongju", "South Korea", "Asia", "Korean"), ("Hsinchu", "Taiwan", "Asia", "Taiwan"),
    ("Valdivia", "Chile", "South America", "Spanish"),
    ("Potosí", "Bolivia", "South America", "Spanish/Quechua"),
    ("Paramaribo", "Suriname", "South America", "Dutch/Sranan"),
    ("Trois-Rivières", "Canada", "North America", "French"),
    ("Whitehorse", "Canada", "North America", "English"),
    ("Kalgoorlie", "Australia", "Oceania", "English"), ("Akureyri", "Iceland", "Europe", "Icelandic"),
    ("Vaasa", "Finland", "Europe", "Finnish/Swedish"), ("Esbjerg", "Denmark", "Europe", "Danish"),
    ("Leeuwarden", "Netherlands", "Europe", "Dutch/Frisian"),
]

OBSCURE_PEOPLE = [
    ("Bohuslav Martinů", nat("czech"), COMPOSER, 1890),
    ("Leoš Janáček", nat("czech", "moravian"), COMPOSER, 1854),
    ("Carl Nielsen", nat("danish"), COMPOSER + ["conductor", "violinist"], 1865),
    ("Gabriela Mistral", nat("chilean"), ["poet", "poetry", "writer", "author", "diplomat", "educator", "teacher"], 1889),
    ("Halldór Laxness", nat("icelandic"), WRITER, 1902),
    ("Sigrid Undset", nat("norwegian_"), WRITER, 1882),
    ("Selma Lagerlöf", nat("swedish"), WRITER + ["teacher"], 1858),
    ("Knut Hamsun", nat("norwegian_"), WRITER, 1859),
    ("Ivo Andrić", nat("yugoslav"), WRITER + ["diplomat"], 1892),
    ("Wisława Szymborska", nat("polish"), ["poet", "poetry", "writer", "author", "essayist", "translator"], 1923),
    ("Rosalía de Castro", nat("spanish", "galician"), ["poet", "poetry", "writer", "author", "novelist"], 1837),
    ("Machado de Assis", nat("brazilian"), WRITER + ["poet", "journalist"], 1839),
    ("Naguib Mahfouz", nat("egyptian"), WRITER, 1911),
    ("Wole Soyinka", nat("nigerian"), WRITER + ["playwright", "poet", "dramatist"], 1934),
    ("Lise Meitner", nat("austrian", "swedish"), PHYSICIST, 1878),
    ("Hideki Yukawa", nat("japanese"), PHYSICIST, 1907),
    ("Chien-Shiung Wu", nat("chinese", "american"), PHYSICIST, 1912),
    ("Hans Christian Ørsted", nat("danish"), PHYSICIST + ["chemist", "chemistry"], 1777),
    ("Jagadish Chandra Bose", nat("indian"), PHYSICIST + ["biologist", "botanist", "inventor"], 1858),
    ("Niels Henrik Abel", nat("norwegian_"), ["mathematician", "mathematics"], 1802),
    ("Santiago Ramón y Cajal", nat("spanish"), ["neuroscientist", "neuroscience", "neuroanatomist", "histologist", "pathologist", "scientist", "physician", "doctor"], 1852),
    ("Alvar Aalto", nat("finnish"), ["architect", "architecture", "designer"], 1898),
    ("Paavo Nurmi", nat("finnish"), None, "running"),
    ("Emil Zátopek", nat("czech", "moravian"), None, "running"),
    ("Abebe Bikila", nat("ethiopian"), None, "marathon"),
    ("Fanny Blankers-Koen", nat("dutch"), None, "sprint"),
    ("Sonja Henie", nat("norwegian_"), None, "figure_skating"),
    ("Lev Yashin", nat("russian"), None, "goalkeeper"),
]

OBSCURE_BOOKS = [
    ("The Tartar Steppe", ["Dino Buzzati", "Buzzati"], nat("italian"), 1940),
    ("Effi Briest", ["Theodor Fontane", "Fontane"], nat("german"), 1895),
    ("Max Havelaar", ["Multatuli", "Eduard Douwes Dekker", "Douwes Dekker"], nat("dutch"), 1860),
    ("Niels Lyhne", ["J. P. Jacobsen", "Jens Peter Jacobsen", "Jacobsen"], nat("danish"), 1880),
    ("Independent People", ["Halldór Laxness", "Halldor Laxness", "Laxness"], nat("icelandic"), 1934),
    ("Pedro Páramo", ["Juan Rulfo", "Rulfo"], nat("mexican"), 1955),
    ("Kristin Lavransdatter", ["Sigrid Undset", "Undset"], nat("norwegian_"), 1920),
    ("The Bridge on the Drina", ["Ivo Andrić", "Ivo Andric", "Andrić", "Andric"], nat("yugoslav"), 1945),
    ("Growth of the Soil", ["Knut Hamsun", "Hamsun"], nat("norwegian_"), 1917),
    ("The Good Soldier Švejk", ["Jaroslav Hašek", "Jaroslav Hasek", "Hašek", "Hasek"], nat("czech"), 1921),
    ("Quo Vadis", ["Henryk Sienkiewicz", "Sienkiewicz"], nat("polish"), 1896),
    ("The Leopard", ["Giuseppe Tomasi di Lampedusa", "Tomasi di Lampedusa", "Lampedusa"], nat("italian"), 1958),
    ("Oblomov", ["Ivan Goncharov", "Goncharov"], nat("russian"), 1859),
    ("Dom Casmurro", ["Machado de Assis", "Machado"], nat("brazilian"), 1899),
    ("Palace Walk", ["Naguib Mahfouz", "Mahfouz"], nat("egyptian"), 1956),
    ("Season of Migration to the North", ["Tayeb Salih", "Tayeb Saleh", "Salih"], nat("sudanese"), 1966),
    ("Petals of Blood", ["Ngũgĩ wa Thiong'o", "Ngugi wa Thiong'o", "Ngũgĩ", "Ngugi", "Thiong'o"], nat("kenyan"), 1977),
    ("The Man Without Qualities", ["Robert Musil", "Musil"], nat("austrian"), 1930),
    ("The Radetzky March", ["Joseph Roth", "Roth"], nat("austrian"), 1932),
    ("Doña Bárbara", ["Rómulo Gallegos", "Romulo Gallegos", "Gallegos"], nat("venezuelan"), 1929),
    ("The Makioka Sisters", ["Jun'ichirō Tanizaki", "Junichiro Tanizaki", "Tanizaki"], nat("japanese"), 1943),
    ("Snow Country", ["Yasunari Kawabata", "Kawabata"], nat("japanese"), 1937),
    ("Kokoro", ["Natsume Sōseki", "Natsume Soseki", "Sōseki", "Soseki"], nat("japanese"), 1914),
    ("The Charterhouse of Parma", ["Stendhal", "Henri Beyle"], nat("french"), 1839),
    ("Gösta Berling's Saga", ["Selma Lagerlöf", "Selma Lagerlof", "Lagerlöf", "Lagerlof"], nat("swedish"), 1891),
    ("Fontamara", ["Ignazio Silone", "Silone"], nat("italian"), 1933),
    ("Ferdydurke", ["Witold Gombrowicz", "Gombrowicz"], nat("polish"), 1937),
    ("Platero and I", ["Juan Ramón Jiménez", "Juan Ramon Jimenez", "Jiménez", "Jimenez"], nat("spanish"), 1914),
]

OBSCURE_TEAMS = [
    ("Rosenborg BK", "football", ["Trondheim"], "Norway"),
    ("Malmö FF", "football", ["Malmö", "Malmo"], "Sweden"),
    ("Ferencvárosi TC", "football", ["Budapest"], "Hungary"),
    ("Club Olimpia", "football", ["Asunción", "Asuncion"], "Paraguay"),
    ("Urawa Red Diamonds", "football", ["Saitama", "Urawa"], "Japan"),
    ("Pohang Steelers", "football", ["Pohang"], "South Korea"),
    ("Slavia Prague", "football", ["Prague", "Praha"], "Czechia"),
    ("Legia Warsaw", "football", ["Warsaw", "Warszawa"], "Poland"),
    ("HJK Helsinki", "football", ["Helsinki"], "Finland"),
    ("Brøndby IF", "football", ["Brøndby", "Brondby", "Copenhagen"], "Denmark"),
    ("Dinamo Zagreb", "football", ["Zagreb"], "Croatia"),
    ("Al Ahly SC", "football", ["Cairo"], "Egypt"),
    ("Espérance de Tunis", "football", ["Tunis"], "Tunisia"),
    ("Kaizer Chiefs", "football", ["Johannesburg", "Soweto"], "South Africa"),
    ("CA Peñarol", "football", ["Montevideo"], "Uruguay"),
    ("Colo-Colo", "football", ["Santiago"], "Chile"),
    ("Once Caldas", "football", ["Manizales"], "Colombia"),
    ("LDU Quito", "football", ["Quito"], "Ecuador"),
    ("Melbourne Storm", "rugby_league", ["Melbourne"], "Australia"),
    ("Leinster Rugby", "rugby_union", ["Dublin"], "Ireland"),
    ("Stade Toulousain", "rugby_union", ["Toulouse"], "France"),
    ("Färjestad BK", "hockey", ["Karlstad"], "Sweden"),
    ("HC Davos", "hockey", ["Davos"], "Switzerland"),
    ("Žalgiris Kaunas", "basketball", ["Kaunas"], "Lithuania"),
    ("Yomiuri Giants", "baseball", ["Tokyo"], "Japan"),
    ("Sydney Swans", "aussie_rules", ["Sydney"], "Australia"),
]

# ---------------------------------------------------------------------------------------------
# Fabricated entities, second generator (origin "markov"). Built differently from the syllable
# generator above so that a probe trained on one can be tested on the other: cities and
# surnames are sampled from an order-3 character Markov chain trained on REAL names (the
# one-word cities / surnames of the real entities plus the training-only lists below), people
# pair such a surname with a real first name from a list disjoint from FIRST_NAMES, books are
# titles assembled from common English words only (no invented word at all), and teams are a
# Markov place name with a club-style nickname or prefix. Drawn from its own seeded RNG after
# the syllable generator, so the syllable names do not change.
# ---------------------------------------------------------------------------------------------

SEED_MARKOV = 20250601
MARKOV_ORDER = 3
MARKOV_PER_TYPE = 40

# training-only lists of real towns and surnames (names only; no facts are claimed about them)
PLACE_CORPUS = """
Aarhus Odense Aalborg Uppsala Lund Linkoping Orebro Gavle Bergen Stavanger Drammen Tampere Turku
Jyvaskyla Kuopio Lahti Rovaniemi Gdansk Poznan Wroclaw Lublin Torun Szczecin Bydgoszcz Brno
Ostrava Olomouc Plzen Debrecen Szeged Pecs Miskolc Brasov Sibiu Constanta Varna Burgas Pleven
Kragujevac Rijeka Osijek Zadar Ljubljana Koper Graz Linz Salzburg Innsbruck Klagenfurt Bregenz
Basel Lucerne Lausanne Lugano Winterthur Freiburg Heidelberg Mannheim Karlsruhe Stuttgart
Augsburg Regensburg Nuremberg Wurzburg Erfurt Leipzig Dresden Chemnitz Rostock Kiel Lubeck
Bremen Hanover Kassel Gottingen Munster Dortmund Essen Bochum Wuppertal Aachen Trier Mainz
Koblenz Utrecht Haarlem Leiden Delft Arnhem Nijmegen Tilburg Breda Zwolle Enschede Antwerp
Bruges Namur Liege Charleroi Rennes Nantes Angers Tours Orleans Dijon Besancon Grenoble Avignon
Nimes Montpellier Perpignan Toulouse Bordeaux Limoges Poitiers Reims Amiens Rouen Caen Brest
Lorient Bilbao Burgos Oviedo Gijon Santander Pamplona Logrono Zaragoza Huesca Teruel Valladolid
Salamanca Caceres Badajoz Cordoba Granada Malaga Almeria Murcia Alicante Castellon Tarragona
Girona Lleida Braga Coimbra Aveiro Viseu Evora Leiria Setubal Bologna Parma Modena Ferrara
Ravenna Rimini Ancona Perugia Siena Lucca Livorno Genoa Turin Bergamo Brescia Verona Padua
Vicenza Trieste Udine Trento Bolzano Lecce Taranto Salerno Palermo Catania Messina Cagliari
Sassari Patras Larissa Volos Ioannina Kavala Chania Heraklion Izmir Bursa Konya Kayseri Trabzon
Samsun Adana Mersin Antalya Rosario Mendoza Tucuman Parana Neuquen Valparaiso Rancagua Talca
Temuco Osorno Antofagasta Iquique Arica Trujillo Chiclayo Piura Cusco Huancayo Cajamarca
Medellin Barranquilla Cartagena Pereira Guayaquil Riobamba Ambato Maracaibo Barquisimeto Cumana
Curitiba Florianopolis Londrina Campinas Sorocaba Recife Fortaleza Salvador Belem Manaus
Goiania Cuiaba Guadalajara Monterrey Puebla Toluca Queretaro Morelia Durango Saltillo Hermosillo
Culiacan Mazatlan Tampico Veracruz Villahermosa
""".split()

SURNAME_CORPUS = """
Andersson Johansson Lindqvist Bergstrom Nyberg Halvorsen Pedersen Christensen Jorgensen Virtanen
Korhonen Makinen Nieminen Kowalski Nowak Wisniewski Zielinski Dvorak Novotny Svoboda Horvath
Szabo Kovacs Popescu Ionescu Dimitrov Petrov Jovanovic Petrovic Kovacevic Muller Schneider
Fischer Weber Wagner Becker Hoffmann Schulz Richter Neumann Schwarz Zimmermann Hartmann Lange
Werner Krause Lehmann Kaiser Fuchs Vogel Jansen Bakker Visser Meijer Mulder Peeters Janssens
Dubois Lefebvre Moreau Laurent Garnier Rousseau Fontaine Chevalier Girard Bonnet Mercier Guerin
Boyer Fernandez Gonzalez Rodriguez Lopez Martinez Sanchez Perez Gomez Moreno Alvarez Romero
Navarro Torres Dominguez Vazquez Ramos Serrano Molina Ortega Delgado Rubio Silva Oliveira
Pereira Carvalho Almeida Ferreira Ribeiro Rossi Russo Ferrari Esposito Bianchi Romano Colombo
Ricci Marino Greco Gallo Conti Giordano Mancini Rizzo Lombardi Moretti Johnson Williams Taylor
Wilson Davies Evans Roberts Walker Wright Thompson Hughes Edwards Harris Clarke Turner Cooper
Morris Baker Harrison Morgan Fletcher Holloway Pritchard Whitaker Ashworth Kendall Lambert
Lindberg Sandberg Holmberg Eriksen Haugen Berglund Lundgren Hakkinen Laine Heikkinen Salminen
Grabowski Lewandowski Kaminski Wojcik Kaczmarek Mazur Krawczyk Prochazka Kucera Vesely Hajek
Farkas Toth Balogh Molnar Varga Radu Stan Munteanu Georgiev Stoyanov Nikolic Markovic Babic
Schmitt Hofmann Bauer Schubert Keller Brandt Haas Seidel Ziegler Frank Berger Winkler Lorenz
Dekker Hendriks Verhoeven Willems Claes Lemaire Duval Fournier Perrin Marchand Lacroix
Gauthier Hernandez Castillo Cabrera Medina Herrera Aguilar Vargas Guzman Mendoza Salazar
Figueroa Cardoso Teixeira Mendes Barbosa Pinto Moura Lucchesi Benedetti Cattaneo Fabbri
Pellegrini Santoro Marchetti Villa Caruso Ferrara Galli Donati Barker Chapman Marshall Lawson
Saunders Spencer Gibson Holland Bradley Cartwright Pemberton Whitfield Blackwood Hargreaves
""".split()

# real first names, none in FIRST_NAMES and none a word of a real entity name in the file
FIRST_NAMES_B = [
    "Harold", "Edwin", "Beatrice", "Gerald", "Mabel", "Rupert", "Doris", "Vernon", "Evelyn",
    "Cecil", "Muriel", "Ingrid", "Amelia", "Jasper", "Rowena", "Tamsin", "Dorothea", "Ambrose",
    "Philippa", "Florian", "Bettina", "Lorna", "Giulia", "Lorenzo", "Aurelio", "Beatriz",
    "Tomasz", "Zofia", "Milena", "Anneli", "Kaisa", "Gustav", "Eleanor", "Raymond", "Harriet",
    "Ignacio", "Mathilde", "Conrad", "Yvonne", "Rasmus",
]
BOOK_B_ADJS = ["Copper", "Amber", "Velvet", "Narrow", "Hidden", "Patient", "Restless", "Borrowed",
               "Painted", "Idle", "Wandering", "Tender", "Bitter", "Unfinished", "Sleeping",
               "Lonely", "Faithful", "Careless", "Sudden", "Marble", "Paper", "Iron"]
BOOK_B_NOUNS = ["Meadow", "Thimble", "Compass", "Candle", "Attic", "Cellar", "Ladder", "Chapel",
                "Pebble", "Anchor", "Feather", "Ribbon", "Hourglass", "Almanac", "Harvest",
                "Furnace", "Threshold", "Carousel", "Saddle", "Kettle", "Tapestry", "Fountain",
                "Staircase", "Magpie", "Lark", "Wren", "Hare", "Shepherd", "Orphan", "Lodger"]
BOOK_B_PLURALS = ["Kites", "Sparrows", "Candles", "Pebbles", "Feathers", "Ribbons", "Magpies",
                  "Lodgers", "Strangers", "Moths", "Ladders", "Thimbles", "Almanacs", "Fountains"]
BOOK_B_TIMES = ["Summer", "Autumn", "Spring", "Morning", "Evening", "Fortnight"]
BOOK_B_TRADES = ["Tailor", "Beekeeper", "Locksmith", "Fiddler", "Shepherd", "Surveyor",
                 "Bookbinder", "Chandler", "Apothecary", "Magistrate", "Schoolmistress", "Lodger"]
BOOK_B_VERBS = ["Kept", "Knew", "Forgot", "Buried", "Carried", "Wanted"]
TEAM_B_NICKNAMES = ["Harriers", "Drovers", "Lancers", "Tanners", "Glovers", "Foresters",
                    "Dragoons", "Voyagers", "Wardens", "Hussars", "Pioneers", "Sentinels",
                    "Millers", "Cutters"]
TEAM_B_PREFIXES = ["Deportivo", "Racing"]
BOOK_B_WORDS = set(w.lower() for w in BOOK_B_ADJS + BOOK_B_NOUNS + BOOK_B_PLURALS + BOOK_B_TIMES
                   + BOOK_B_TRADES + BOOK_B_VERBS) | {"the", "a", "an", "of", "in", "and", "what", "s"}
FIXED_WORDS_B = (BOOK_B_WORDS | set(w.lower() for w in FIRST_NAMES_B + TEAM_B_NICKNAMES
                                    + TEAM_B_PREFIXES))
# Markov names that turned out to be real places, surnames or words (checked by eye)
BLOCKLIST_B = {"upperp", "pamping", "domine", "ioannes", "wintertal"}


FOLD = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae", "ß": "ss", "ł": "l", "Ł": "L",
                      "đ": "d", "Đ": "D", "ı": "i"})


def ascii_fold(s):
    return "".join(c for c in unicodedata.normalize("NFKD", s.translate(FOLD))
                   if not unicodedata.combining(c))


def too_close(word, corpus, max_edits=2):
    """True if word is within max_edits edits of a training name or is part of one
    (truncations such as "Athen" or "Munste" read as the real name)."""
    for t in corpus:
        if word in t or abs(len(word) - len(t)) > max_edits:
            if word in t:
                return True
            continue
        prev = list(range(len(t) + 1))
        for i, a in enumerate(word, 1):
            cur = [i]
            for j, b in enumerate(t, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
            prev = cur
        if prev[-1] <= max_edits:
            return True
    return False


class CharMarkov:
    """Order-k character Markov chain over lowercase words; "^" pads the start, "$" ends."""

    def __init__(self, words, order):
        self.order = order
        self.next = collections.defaultdict(list)
        for w in words:
            s = "^" * order + w + "$"
            for i in range(order, len(s)):
                self.next[s[i - order:i]].append(s[i])

    def sample(self, rng, min_len, max_len):
        while True:
            ctx, out = "^" * self.order, ""
            while len(out) <= max_len:
                c = rng.choice(self.next[ctx])
                if c == "$":
                    break
                out += c
                ctx = (ctx + c)[-self.order:]
            if min_len <= len(out) <= max_len:
                return out


def training_words(names):
    """Lowercase ASCII one-word names (multi-word and hyphenated names are left out)."""
    out = []
    for n in names:
        w = ascii_fold(n).lower()
        if w.isalpha() and w not in out:
            out.append(w)
    return out


def markov_fakers(real):
    # the chains learn from the training-only lists, not from the entities in the file, so a
    # Markov name is not a blend of names the model is asked about ("Djokovacek", "Leidelft");
    # the entities' own one-word names still count as training names for the rejection rules
    cities = training_words(PLACE_CORPUS)
    surnames = training_words(SURNAME_CORPUS)
    place_chain = CharMarkov(cities, MARKOV_ORDER)
    surname_chain = CharMarkov(surnames, MARKOV_ORDER)
    corpus = set(cities) | set(surnames) | set(training_words(
        [w for r in real for w in r["entity"].split()]))

    def place(rng):
        return place_chain.sample(rng, 6, 11).capitalize()

    def city(rng):
        return place(rng)

    def person(rng):
        return f"{rng.choice(FIRST_NAMES_B)} {surname_chain.sample(rng, 6, 10).capitalize()}"

    def book(rng):
        pattern = rng.randrange(6)
        if pattern == 0:
            return f"The {rng.choice(BOOK_B_ADJS)} {rng.choice(BOOK_B_NOUNS)}"
        if pattern == 1:
            time = rng.choice(BOOK_B_TIMES)
            return f"{'An' if time[0] in 'AEIOU' else 'A'} {time} of {rng.choice(BOOK_B_PLURALS)}"
        if pattern == 2:
            return f"The {rng.choice(BOOK_B_TRADES)}'s {rng.choice(BOOK_B_NOUNS)}"
        if pattern == 3:
            return f"{rng.choice(BOOK_B_PLURALS)} in the {rng.choice(BOOK_B_NOUNS)}"
        if pattern == 4:
            a, b = rng.sample(BOOK_B_NOUNS, 2)
            return f"{a} and {b}"
        return f"What the {rng.choice(BOOK_B_TRADES)} {rng.choice(BOOK_B_VERBS)}"

    def team(rng):
        if rng.random() < 0.7:
            return f"{place(rng)} {rng.choice(TEAM_B_NICKNAMES)}"
        return f"{rng.choice(TEAM_B_PREFIXES)} {place(rng)}"

    return {"city": city, "person": person, "book": book, "team": team}, corpus


def markov_rows(real, syllable, rng):
    """MARKOV_PER_TYPE fabricated entities per type from the second generator. Same rules as
    the syllable generator against ALL real entities (famous and obscure), and, in addition, no
    name equal to or containing a syllable name, no invented word equal to a syllable word,
    containing a training name of 6+ letters, within two edits of a training name or part of
    one, and no invented word used twice."""
    fakers, corpus = markov_fakers(real)
    real_names = {r["entity"].lower() for r in real}
    real_words = {ascii_fold(w) for r in real
                  for w in re.findall(r"[^\W\d_]+", r["entity"].lower()) if len(w) >= 4}
    real_surnames = {ascii_fold(r["entity"].split()[-1].lower()) for r in real if r["type"] == "person"}
    real_single = {ascii_fold(r["entity"].lower()) for r in real if r["type"] == "city"
                   and " " not in r["entity"] and len(r["entity"]) >= 4}
    a_names = [r["entity"].lower() for r in syllable]
    a_words = {w for r in syllable for w in re.findall(r"[^\W\d_]+", r["entity"].lower())} - FIXED_WORDS
    long_corpus = {w for w in corpus if len(w) >= 6}
    clash = sorted(w for w in FIXED_WORDS_B if w in real_words or w in FIXED_WORDS - {"the", "of", "and", "a", "an"})
    assert not clash, f"generator B vocabulary reuses real or syllable words: {clash}"
    real_people = [r for r in real if r["type"] == "person" and r["origin"] == "famous"]
    sport_share = sum(r["questions"][2]["attribute"] == "sport" for r in real_people) / len(real_people)
    rows, used, used_words = [], set(real_names) | set(a_names), set()
    for etype in ("city", "person", "book", "team"):
        made = 0
        while made < MARKOV_PER_TYPE:
            name = fakers[etype](rng)
            low = name.lower()
            words = re.findall(r"[^\W\d_]+", low)
            invented = [w for w in words if w not in FIXED_WORDS_B]
            if low in used or any(a in low for a in a_names):
                continue
            if any(w in real_words or w in a_words or w in corpus or w in BLOCKLIST_B for w in invented):
                continue
            if any(c in w for w in invented for c in real_single | long_corpus):
                continue
            if any(too_close(w, corpus) for w in invented):
                continue
            if etype == "person" and words[-1] in real_surnames:
                continue
            if any(w in used_words for w in invented):
                continue
            used.add(low)
            used_words.update(invented)
            if etype == "city":
                questions = [q(a, t, name, []) for a, t in CITY_Q]
            elif etype == "person":
                third = PERSON_Q_SPORT if rng.random() < sport_share else PERSON_Q_CENTURY
                questions = [q(a, t, name, []) for a, t in PERSON_Q + [third]]
            elif etype == "book":
                questions = [q(a, t, name, []) for a, t in BOOK_Q]
            else:
                questions = [q(a, t, name, []) for a, t in TEAM_Q]
            rows.append(row(etype, name, "fabricated", "markov", questions))
            made += 1
    return rows

# ---------------------------------------------------------------------------------------------
# Generic everyday sentences (no named entities), used to find latents that fire on any text.
# ---------------------------------------------------------------------------------------------

GENERIC = """
The kettle clicked off just as the toast popped up.
It rained all afternoon, so we stayed inside and played cards.
She folded the laundry while the radio played quietly in the background.
My neighbour waters his tomatoes every evening after work.
The bus was late again this morning because of the roadworks.
He forgot his umbrella and arrived at the office soaking wet.
We had soup and fresh bread for dinner last night.
The cat fell asleep on the warm windowsill.
A small dog barked at the postman from behind the fence.
The children built a sandcastle near the edge of the water.
I need to buy milk, eggs and a loaf of bread on the way home.
The meeting was moved to the afternoon because the manager was ill.
Please remember to switch off the lights when you leave the room.
The old bicycle squeaks every time I turn the pedals.
Our train stopped between two stations for almost twenty minutes.
She painted the kitchen wall a pale shade of yellow.
The baby laughed every time the balloon floated past.
We walked along the river until the sun went down.
The library closes early on public holidays.
He spent the weekend fixing the leaking tap in the bathroom.
The coffee was too hot to drink, so I let it cool for a while.
A strong wind knocked over the bins during the night.
The teacher asked everyone to open their books to the first page.
My phone battery always runs out at the worst possible moment.
They planted three apple trees at the bottom of the garden.
The soup needs a little more salt and a pinch of pepper.
I usually go for a short run before breakfast.
The traffic lights were broken, so a police officer directed the cars.
The shop on the corner sells the best pastries in the neighbourhood.
We could hear thunder rumbling far away in the hills.
The students waited nervously outside the exam hall.
Grandmother knitted a warm scarf for each of her grandchildren.
The printer jammed again just before the deadline.
A flock of birds flew low over the empty field.
He carefully wrapped the present in shiny blue paper.
The restaurant was so busy that we had to wait for a table.
Fresh snow covered the cars parked along the street.
The doctor told him to drink more water and get some rest.
I left my keys on the kitchen table again.
The film was long, but the ending was worth the wait.
Our neighbours are having a party and the music is very loud.
She found an old photograph tucked inside a book.
The farmer drove his tractor slowly along the narrow lane.
Please write your name at the top of the form.
The plant on my desk has grown two new leaves this week.
We ran out of sugar, so I borrowed some from next door.
The pharmacy opens at nine and closes at six.
He whistled a cheerful tune while washing the dishes.
The puppy chewed one of my favourite shoes.
Most mornings the park is full of people walking their dogs.
The lecture started ten minutes late because the projector failed.
I always feel sleepy after a big lunch.
Someone left a bag of oranges on the doorstep.
The candles flickered as the door swung open.
She practised the piano for an hour every evening.
The bridge was closed for repairs, so we took the long way round.
A cold glass of lemonade is perfect on a hot day.
The waiter brought us the wrong order, but it was delicious anyway.
My brother is learning how to bake bread at home.
The elevator was out of order, so everyone used the stairs.
We watched the clouds drift slowly across the sky.
He hung his coat on the hook behind the door.
The market is crowded on weekend mornings.
The toddler insisted on wearing his rain boots to bed.
I wrote a shopping list but forgot to bring it with me.
The smell of fresh coffee filled the whole house.
The gardener trimmed the hedges into neat square shapes.
Our flight was delayed because of heavy fog.
The kids spent the afternoon drawing with coloured chalk on the pavement.
She keeps a notebook by her bed to write down her dreams.
The washing machine makes a strange noise when it spins.
A squirrel ran up the tree with a nut in its mouth.
The museum was quiet and almost empty on a weekday afternoon.
He cut his finger while chopping onions.
The new sofa is much more comfortable than the old one.
We stayed up late talking about our plans for the summer.
The heating broke down in the middle of winter.
The cake needs another ten minutes in the oven.
I prefer reading on the train rather than looking at my phone.
The waves crashed against the rocks all night long.
She returned the library books two days late.
The office kitchen always runs out of clean mugs by noon.
He planted sunflowers along the fence last spring.
A gentle breeze carried the scent of cut grass.
The crossword puzzle took me the whole evening to finish.
The streetlights came on one by one as it grew dark.
They painted the fence white and it looks much brighter now.
The ice cream melted before we could finish it.
Two boys were kicking a ball against the garage door.
The recipe calls for two cups of flour and a spoonful of honey.
I woke up early and watched the sunrise from the balcony.
The nurse checked his temperature every few hours.
The mirror in the hallway is slightly crooked.
Our car would not start on the coldest morning of the year.
The shopkeeper greeted every customer with a smile.
The rain made the stone steps slippery.
She poured the tea into two small cups.
A lost kitten wandered into our garden yesterday.
The orchestra tuned their instruments before the concert began.
He always forgets to charge his headphones.
The noodles were spicy, so I drank a lot of water.
We rearranged the furniture to make the room feel bigger.
The queue at the post office stretched out of the door.
Leaves piled up on the lawn after the autumn storm.
The little girl counted the stars through her bedroom window.
I finally cleaned out the cupboard under the stairs.
The soup kitchen serves hot meals every evening.
A bee buzzed lazily around the flowers on the balcony.
The clock in the hallway is five minutes fast.
He jogged around the lake three times before breakfast.
The pasta boiled over while I was answering the door.
The hikers stopped by the stream to fill their water bottles.
Our teacher read us a story at the end of every day.
The fridge is almost empty, so we should go shopping.
She wore a bright red coat that stood out in the crowd.
The wind chimes rang softly on the porch.
He carried the heavy boxes up to the third floor.
The bakery sells out of croissants before eight o'clock.
The children giggled at the clown's enormous shoes.
I spilled coffee on my shirt just before the interview.
The pond froze over during the cold snap.
The neighbours' dog barks whenever a car goes past.
She sorted the buttons by colour and size.
The train was packed, so I stood all the way home.
The fire crackled in the fireplace while we drank hot chocolate.
We bought a second-hand table from a local shop.
The kitten chased a ball of wool across the floor.
My grandfather tells the same jokes every holiday.
The grass is still wet from the morning dew.
He accidentally sent the message to the wrong person.
The sky turned orange and pink as the sun set.
The bakery smelled of cinnamon and warm sugar.
I keep a spare key hidden under a flowerpot.
The car park was full, so we parked on the street.
She signed up for an evening class in pottery.
The baby finally fell asleep after a long walk in the pram.
The pipes rattle whenever someone turns on the hot water.
We picked blackberries along the path by the woods.
The shop assistant helped me find a jacket in my size.
He read the instructions twice before assembling the shelf.
The streets were quiet early on a weekend morning.
A spider spun its web across the corner of the window.
The stew tastes even better the next day.
The students cheered when the bell rang for the holidays.
I lost my glove somewhere between the bus stop and home.
The roof leaks a little whenever it rains heavily.
She always takes the stairs instead of the lift.
The cows lay down in the field before the storm.
The pizza arrived cold, but we ate it anyway.
He tied his shoelaces twice before the race.
The curtains were too short for the tall windows.
We laughed so hard that our stomachs hurt.
The moon was full and bright over the rooftops.
My sister collects postcards from every place she visits.
The alarm went off an hour earlier than I wanted.
The dentist said my teeth were in good shape.
The toddler stacked the wooden blocks into a tall tower.
A loud noise outside woke everyone in the house.
The vegetables from the garden taste sweeter than the ones from the shop.
He struggled to open the jar of pickles.
The playground was full of children shouting and laughing.
Our internet connection keeps dropping in the evenings.
She hummed quietly as she watered the plants.
The cupboard door sticks when the weather is damp.
The cyclists rode in a long line up the hill.
I made a cup of tea and sat down with a good book.
The garden gate creaks every time someone opens it.
They spent the whole afternoon looking for the lost ring.
The school bus picks up the children at half past seven.
The soup was so thick that the spoon could almost stand up.
We heard an owl hooting in the trees behind the house.
He swept the fallen leaves into a big pile.
The shop was closed for stocktaking on the last day of the month.
My shoes are still muddy from yesterday's walk.
The kettle takes ages to boil in the mornings.
She hung fairy lights around the window frame.
The old man fed the pigeons in the square every morning.
The parcel arrived a day earlier than expected.
A light drizzle fell throughout the afternoon.
The boys argued about whose turn it was to wash up.
The bread was still warm when we cut into it.
I forgot to set an alarm and overslept.
The hedgehog came out at night to look for food.
The committee discussed the budget for over two hours.
We carried the picnic basket up to the top of the hill.
He changed the light bulb in the hallway.
The rain stopped just as we reached the front door.
She learned to ride a bike when she was six.
The bakery on our street opens before sunrise.
The dog rolled happily in the long grass.
A thick fog settled over the valley overnight.
The pot of soup simmered gently on the stove.
I tidied my desk before starting work.
The children made paper boats and floated them in the puddles.
The teacher wrote the homework on the board.
He saved a little money every month for a new guitar.
The bathroom mirror steamed up during the shower.
We stopped at a roadside stall to buy fresh strawberries.
The baby's first word was a cheerful little babble.
The old armchair sagged in the middle.
Her handwriting is neat and easy to read.
The cinema was almost empty for the late showing.
A cool breeze came through the open window.
The cake recipe failed because I used salt instead of sugar.
He lost track of time while reading in the garden.
The office was unusually quiet on a rainy afternoon.
The frogs croaked loudly in the pond all evening.
I ironed my shirt the night before the meeting.
The child drew a house with a bright yellow sun.
The noise from the building site started at seven in the morning.
She bought a small plant for her desk at work.
Our cat brings us leaves from the garden as presents.
The river rose after several days of heavy rain.
We ordered too much food and took the rest home.
The boy proudly showed his parents the fish he had caught.
The hallway smelled of fresh paint.
He always puts too much milk in his tea.
The runners stretched before the start of the race.
My umbrella turned inside out in the wind.
The shelves in the kitchen are full of jars and tins.
She wrapped herself in a blanket and watched the rain.
The car needs new tyres before the winter.
The ducks paddled across the pond towards the bread.
I wrote a thank-you note for the lovely gift.
The chef tasted the sauce and added a little lemon.
A warm bath is the best way to relax after a long day.
The students formed small groups to discuss the question.
The lawnmower ran out of fuel halfway through the garden.
Our neighbours invited us over for a barbecue.
The light in the fridge stopped working last week.
He apologised for being late to the meeting.
The sand was too hot to walk on without shoes.
She keeps her spices in neat little jars.
The horse trotted slowly along the edge of the field.
The phone rang just as I stepped into the shower.
We played board games until well after midnight.
The sink is full of dirty dishes again.
A rainbow appeared over the hills after the storm.
The carpenter measured the wood twice before cutting it.
The toddler refused to eat anything green.
I walked to work because the weather was so nice.
The curtains flapped in the wind from the open window.
The bread rolls were hard, so we toasted them.
He keeps his tools in a wooden box in the shed.
The music was too loud for us to hear each other.
Our holiday photos were all slightly blurry.
The grocery bags were heavier than I expected.
She smiled when she saw the flowers on her desk.
The thunderstorm knocked out the power for an hour.
I found a coin on the pavement on my way home.
The kids built a fort out of cushions and blankets.
The engine made a rattling sound on the motorway.
He watered the garden before the sun got too hot.
The oranges in the bowl have started to go soft.
A group of teenagers sat chatting on the steps.
The soup was bland until we added some herbs.
The hotel room had a small balcony overlooking the sea.
We forgot to bring a map and got a little lost.
She organised her books by the colour of their covers.
The paint took two days to dry completely.
The wind howled around the house all night.
He bought a new pair of running shoes.
The children queued up for ice cream at the van.
The old clock stopped at exactly midnight.
I prefer my eggs scrambled rather than fried.
The snow melted quickly once the sun came out.
The restaurant played soft music in the background.
A cat sat on the wall watching the birds.
The kitchen tap drips all night long.
We painted the garden shed dark green.
The exam was easier than everyone had feared.
He fell asleep on the sofa watching television.
The bakery's bread is best when it is still warm.
She jogged along the beach as the tide went out.
The milk had gone sour, so I poured it away.
The children waved at the passing train.
The hotel breakfast included fresh fruit and yoghurt.
A loud crash came from the kitchen.
The old barn leaned slightly to one side.
I bought a small notebook to write down new words.
The ferry rocked gently on the calm water.
She found the missing sock behind the radiator.
The hot air balloon floated slowly over the fields.
He made pancakes for everyone on the first morning of the holidays.
The windows rattled when the lorry drove past.
Our neighbour's cat often sleeps on our doormat.
The lemon tree in the pot finally produced fruit.
We sat on the bench and watched the boats come in.
The dishwasher finished its cycle with a loud beep.
The baby grabbed my finger and would not let go.
I took the long way home to enjoy the sunshine.
The stew needs to cook slowly for three hours.
The meeting ended early, so we went for a coffee.
The fence blew down in the storm last night.
She keeps forgetting where she parked the car.
A woodpecker tapped loudly on the tree trunk.
The shop sells everything from nails to birthday cards.
He carefully poured the paint into the tray.
The children sang songs around the campfire.
The queue for the toilets was longer than the queue for food.
My tea went cold while I was on the phone.
The garden looks much tidier after the weekend.
They watched a documentary about deep sea creatures.
The heavy rain flooded the road near the school.
The teacher praised the class for their hard work.
I need a new charger because the old one is broken.
The cat knocked a glass off the table.
The hikers reached the top just before the clouds rolled in.
She made a salad with tomatoes, cucumber and fresh basil.
The postman delivered a parcel that was not ours.
Our kitchen smells of garlic after dinner.
The bell rang and the children rushed outside.
The walls are so thin that we can hear our neighbours talking.
The first frost of the year covered the lawn.
He washed the car in the driveway on a sunny afternoon.
The bookshop has a cosy corner with armchairs.
I dropped my sandwich on the floor.
The kids made a snowman with a carrot for a nose.
The sound of rain on the roof helped me fall asleep.
She bought a bunch of tulips at the market.
The printer is out of ink again.
The dog waited patiently by the door for its walk.
We sat in the shade of a big old tree.
The cook sharpened the knives before dinner.
Somebody left the gate open and the sheep got out.
The little boy lost his first tooth at breakfast.
The laundry dried quickly in the warm breeze.
I spent the evening sorting through old letters.
The flowers on the table began to wilt.
The carpenter fixed the broken step on the staircase.
A gust of wind blew the papers off my desk.
The porridge was too thick, so I added more milk.
The couple danced slowly in the kitchen.
""".strip().splitlines()

# ---------------------------------------------------------------------------------------------


def q(attribute, template, name, answers):
    return {"attribute": attribute, "question": template.format(name=name), "answers": list(answers)}


def dedupe(xs):
    seen, out = set(), []
    for x in xs:
        if x.lower() not in seen:
            seen.add(x.lower())
            out.append(x)
    return out


def row(etype, name, source, origin, questions):
    for item in questions:
        item["answers"] = dedupe(item["answers"])
    return {"entity": name, "type": etype, "source": source, "origin": origin,
            "group": f"{etype}:{name}", "questions": questions}


def real_rows(origin="famous", cities=CITIES, people=PEOPLE, books=BOOKS, teams=TEAMS):
    rows = []
    for name, country, continent, language in cities:
        answers = [COUNTRY[country], CONTINENT[continent], LANGUAGE[language]]
        rows.append(row("city", name, "real", origin,
                        [q(a, t, name, ans) for (a, t), ans in zip(CITY_Q, answers)]))
    for name, nationality, profession, third in people:
        if isinstance(third, str):  # athlete
            profession = SPORT_PROFESSION[third]
            last = q(*PERSON_Q_SPORT, name, SPORT_NAME[third])
        else:
            years = third if isinstance(third, tuple) else (third,)
            centuries = sorted({century_of(y) for y in years})
            assert len(centuries) == 1, name
            last = q(*PERSON_Q_CENTURY, name, CENTURY[centuries[0]] + [str(y) for y in years])
        rows.append(row("person", name, "real", origin,
                        [q(*PERSON_Q[0], name, nationality), q(*PERSON_Q[1], name, profession), last]))
    for title, author, nationality, year in books:
        answers = [author, nationality, CENTURY[century_of(year)]]
        rows.append(row("book", title, "real", origin,
                        [q(a, t, title, ans) for (a, t), ans in zip(BOOK_Q, answers)]))
    for name, sport, city, country in teams:
        answers = [TEAM_SPORT[sport], city, COUNTRY[country]]
        rows.append(row("team", name, "real", origin,
                        [q(a, t, name, ans) for (a, t), ans in zip(TEAM_Q, answers)]))
    return rows


def fabricated_rows(real, rng):
    """As many fabricated entities per type as real ones, none equal to (or containing as a
    whole word) a real entity name, and fabricated surnames never equal to a real surname."""
    real_names = {r["entity"].lower() for r in real}
    real_words = {w for r in real for w in re.findall(r"[^\W\d_]+", r["entity"].lower()) if len(w) >= 4}
    real_surnames = {r["entity"].split()[-1].lower() for r in real if r["type"] == "person"}
    # no invented word may contain a one-word real city name ("Limaburg", "Romeford")
    real_single = {r["entity"].lower() for r in real if r["type"] == "city" and " " not in r["entity"]
                   and len(r["entity"]) >= 4}
    counts = collections.Counter(r["type"] for r in real)
    # fabricated people get the century or the sport question in the real proportion
    real_people = [r for r in real if r["type"] == "person"]
    sport_share = sum(r["questions"][2]["attribute"] == "sport" for r in real_people) / len(real_people)
    rows, used = [], set(real_names)
    for etype in ("city", "person", "book", "team"):
        made = 0
        while made < counts[etype]:
            name = FAKERS[etype](rng)
            words = re.findall(r"[^\W\d_]+", name.lower())
            invented = [w for w in words if w not in FIXED_WORDS]
            if any(c in w for w in invented for c in real_single) or BLOCKLIST & set(invented):
                continue
            if name.lower() in used or any(w in real_words for w in invented):
                continue
            if etype == "person" and words[-1] in real_surnames:
                continue
            used.add(name.lower())
            if etype == "city":
                questions = [q(a, t, name, []) for a, t in CITY_Q]
            elif etype == "person":
                third = PERSON_Q_SPORT if rng.random() < sport_share else PERSON_Q_CENTURY
                questions = [q(a, t, name, []) for a, t in PERSON_Q + [third]]
            elif etype == "book":
                questions = [q(a, t, name, []) for a, t in BOOK_Q]
            else:
                questions = [q(a, t, name, []) for a, t in TEAM_Q]
            rows.append(row(etype, name, "fabricated", "syllable", questions))
            made += 1
    return rows


FRAMES = {
    "neutral": "The {type} {name}",
    "type_nouns": {"city": "city", "person": "person", "book": "book", "team": "team"},
    "question_prompt": "Answer in a few words.\nQuestion: {question}\nAnswer:",
}

ORIGINS = {"real": ("famous", "obscure"), "fabricated": ("syllable", "markov")}
MIN_PER_CELL = {"famous": 60, "syllable": 60, "obscure": 20, "markov": 30}
MIN_GENERIC = 300
ALIAS_SHORT_OK = {"USA"}
TYPES = ("city", "person", "book", "team")


def validate(rows, generic):
    errors = []
    by_type = collections.defaultdict(list)
    for r in rows:
        if list(r) != ["entity", "type", "source", "origin", "group", "questions"]:
            errors.append(f"keys of {r['entity']}: {list(r)}")
        if r.get("origin") not in ORIGINS.get(r["source"], ()):
            errors.append(f"{r['entity']}: origin {r.get('origin')!r} for source {r['source']!r}")
        by_type[r["type"]].append(r)
        if r["group"] != f"{r['type']}:{r['entity']}":
            errors.append(f"group of {r['entity']}")
        if len(r["questions"]) != 3:
            errors.append(f"{r['entity']}: {len(r['questions'])} questions")
        attrs = [x["attribute"] for x in r["questions"]]
        if len(set(attrs)) != 3:
            errors.append(f"{r['entity']}: repeated attribute {attrs}")
        for x in r["questions"]:
            if list(x) != ["attribute", "question", "answers"]:
                errors.append(f"{r['entity']}: question keys {list(x)}")
            if r["entity"] not in x["question"]:
                errors.append(f"{r['entity']}: name missing from {x['question']!r}")
            if r["source"] == "real":
                if not x["answers"]:
                    errors.append(f"{r['entity']}: no answers for {x['attribute']}")
                for a in x["answers"]:
                    if not a.strip() or (len(a) < 4 and a not in ALIAS_SHORT_OK):
                        errors.append(f"{r['entity']}: alias too short {a!r}")
            elif x["answers"]:
                errors.append(f"fabricated {r['entity']} has answers")
    for etype, items in by_type.items():
        names = [r["entity"].lower() for r in items]
        for name, n in collections.Counter(names).items():
            if n > 1:
                errors.append(f"duplicate {etype} {name}")
        for origin, minimum in MIN_PER_CELL.items():
            n = sum(r["origin"] == origin for r in items)
            if n < minimum:
                errors.append(f"{etype}/{origin}: only {n}")
    # the same attributes (hence question templates) for real rows of a type, whatever the origin
    for etype, items in by_type.items():
        templates = collections.defaultdict(set)
        for r in items:
            templates[r["origin"]].add(tuple(x["attribute"] for x in r["questions"]))
        for origin, attrs in templates.items():
            if not attrs <= templates.get("famous", set()) | templates.get("syllable", set()):
                errors.append(f"{etype}/{origin}: attributes {sorted(attrs)} differ from the famous rows")
    real_names = {r["entity"].lower() for r in rows if r["source"] == "real"}
    for r in rows:
        if r["source"] == "fabricated" and r["entity"].lower() in real_names:
            errors.append(f"fabricated {r['entity']} collides with a real entity")
    syllable = [r["entity"].lower() for r in rows if r["origin"] == "syllable"]
    for r in rows:
        if r["origin"] == "markov" and any(a in r["entity"].lower() for a in syllable):
            errors.append(f"markov {r['entity']} contains a syllable name")
    # an obscure one-word city inside a syllable name would make that fabricated name half real
    obscure_single = [r["entity"].lower() for r in rows if r["origin"] == "obscure"
                      and r["type"] == "city" and " " not in r["entity"]]
    for r in rows:
        if r["source"] == "fabricated" and any(c in r["entity"].lower() for c in obscure_single):
            errors.append(f"fabricated {r['entity']} contains an obscure real city")
    # rows stay grouped in the order famous, syllable, obscure, markov
    order = [r["origin"] for r in rows]
    if order != sorted(order, key=["famous", "syllable", "obscure", "markov"].index):
        errors.append("rows are not in the order famous, syllable, obscure, markov")
    if len(generic) < MIN_GENERIC:
        errors.append(f"only {len(generic)} generic sentences")
    if len({g.lower() for g in generic}) != len(generic):
        errors.append("duplicate generic sentences")
    for g in generic:
        # no named entities: no capitalised word except the first word and "I"
        for w in g.split()[1:]:
            if w[:1].isupper() and not re.fullmatch(r"I('m|'ve|'ll|'d)?[.,]?", w):
                errors.append(f"capitalised word {w!r} in generic sentence {g!r}")
        if not g.endswith((".", "!", "?")):
            errors.append(f"unterminated generic sentence {g!r}")
    return errors


def name_loglik(train_names, test_names, order=2):
    """Mean per-character log-probability (add-one smoothed character model of the given order,
    ASCII-folded, lowercase) of test_names under a model of train_names: how much a name's
    spelling looks like the training names'."""
    counts, ctx_counts, alphabet = collections.Counter(), collections.Counter(), set("$")
    for n in train_names:
        s = "^" * order + ascii_fold(n).lower() + "$"
        alphabet |= set(s)
        for i in range(order, len(s)):
            counts[s[i - order:i + 1]] += 1
            ctx_counts[s[i - order:i]] += 1
    total, chars = 0.0, 0
    for n in test_names:
        s = "^" * order + ascii_fold(n).lower() + "$"
        for i in range(order, len(s)):
            p = (counts[s[i - order:i + 1]] + 1) / (ctx_counts[s[i - order:i]] + len(alphabet))
            total += math.log(p)
            chars += 1
    return total / max(chars, 1)


def main():
    here = pathlib.Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=here)
    args = parser.parse_args()

    famous = real_rows()
    syllable = fabricated_rows(famous, random.Random(SEED))
    obscure = real_rows("obscure", OBSCURE_CITIES, OBSCURE_PEOPLE, OBSCURE_BOOKS, OBSCURE_TEAMS)
    markov = markov_rows(famous + obscure, syllable, random.Random(SEED_MARKOV))
    rows = famous + syllable + obscure + markov
    generic = [g.strip() for g in GENERIC if g.strip()]

    errors = validate(rows, generic)
    if errors:
        for e in errors:
            print("error:", e, file=sys.stderr)
        sys.exit(1)

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "entities.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(args.out / "frames.json", "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(FRAMES, ensure_ascii=False, indent=2) + "\n")
    with open(args.out / "generic.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for g in generic:
            f.write(json.dumps({"text": g}, ensure_ascii=False) + "\n")

    origins = ("famous", "obscure", "syllable", "markov")
    counts = collections.Counter((r["type"], r["origin"]) for r in rows)
    print(f"wrote {len(rows)} entities, {len(generic)} generic sentences to {args.out}")
    print("  " + " " * 7 + "".join(f"{o:>10s}" for o in origins))
    for etype in TYPES:
        print(f"  {etype:7s}" + "".join(f"{counts[(etype, o)]:10d}" for o in origins))
    attrs = collections.Counter((r["type"], x["attribute"]) for r in rows for x in r["questions"]
                                if r["source"] == "real")
    print("  real questions by attribute:", ", ".join(f"{t}/{a} {n}" for (t, a), n in sorted(attrs.items())))
    for origin in ("famous", "obscure"):
        echo = sum(any(a.lower() in r["entity"].lower() for a in x["answers"])
                   for r in rows if r["origin"] == origin for x in r["questions"])
        print(f"  {origin} questions whose answer appears inside the entity name: {echo}")
    # how much each set's spelling looks like the famous names of its type (character bigrams)
    print("  mean char log-prob under a bigram model of the type's real names (famous and obscure;"
          " higher = spelt more like them):")
    for etype in TYPES:
        train = [r["entity"] for r in rows if r["type"] == etype and r["source"] == "real"]
        scores = [name_loglik(train, [r["entity"] for r in rows if r["type"] == etype and r["origin"] == o])
                  for o in ("syllable", "markov")]
        print(f"    {etype:7s} syllable {scores[0]:.2f}  markov {scores[1]:.2f}")


if __name__ == "__main__":
    main()
