"""Writes capitals.jsonl: true and false statements about capital cities (public facts),
one true and one false statement per country, grouped by country so probes never see the
same country in training and test. Deterministic; no dependencies.

    python3 probes/facts/make_capitals.py > probes/facts/capitals.jsonl
"""
import json
import random

PAIRS = [
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"),
    ("Portugal", "Lisbon"), ("Japan", "Tokyo"), ("China", "Beijing"), ("Russia", "Moscow"),
    ("Egypt", "Cairo"), ("Greece", "Athens"), ("Austria", "Vienna"), ("Poland", "Warsaw"),
    ("Norway", "Oslo"), ("Sweden", "Stockholm"), ("Finland", "Helsinki"), ("Denmark", "Copenhagen"),
    ("Ireland", "Dublin"), ("the United Kingdom", "London"), ("Canada", "Ottawa"), ("Mexico", "Mexico City"),
    ("Argentina", "Buenos Aires"), ("Peru", "Lima"), ("Chile", "Santiago"), ("Colombia", "Bogotá"),
    ("Kenya", "Nairobi"), ("Nigeria", "Abuja"), ("Ethiopia", "Addis Ababa"), ("Morocco", "Rabat"),
    ("India", "New Delhi"), ("Thailand", "Bangkok"), ("Vietnam", "Hanoi"), ("Indonesia", "Jakarta"),
    ("the Philippines", "Manila"), ("South Korea", "Seoul"), ("Iran", "Tehran"), ("Iraq", "Baghdad"),
    ("Turkey", "Ankara"), ("Hungary", "Budapest"), ("the Czech Republic", "Prague"), ("Belgium", "Brussels"),
    ("the Netherlands", "Amsterdam"), ("Switzerland", "Bern"), ("Australia", "Canberra"), ("New Zealand", "Wellington"),
    ("Cuba", "Havana"), ("Venezuela", "Caracas"), ("Ukraine", "Kyiv"), ("Romania", "Bucharest"),
    ("Bulgaria", "Sofia"), ("Serbia", "Belgrade"), ("Croatia", "Zagreb"), ("Iceland", "Reykjavik"),
    ("Saudi Arabia", "Riyadh"), ("Israel", "Jerusalem"), ("Syria", "Damascus"), ("Lebanon", "Beirut"),
    ("Afghanistan", "Kabul"), ("Pakistan", "Islamabad"), ("Bangladesh", "Dhaka"), ("Nepal", "Kathmandu"),
]
TEMPLATES = ["The capital of {c} is {x}.", "{x} is the capital of {c}."]

rng = random.Random(2026)
for i, (country, capital) in enumerate(PAIRS):
    wrong = rng.choice([p[1] for p in PAIRS if p[1] != capital])
    template = TEMPLATES[i % len(TEMPLATES)]
    for truth, city in ((True, capital), (False, wrong)):
        print(json.dumps({"text": template.format(c=country, x=city), "label": truth,
                          "country": country, "city": city}, ensure_ascii=False))
