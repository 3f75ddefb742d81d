"""Writes the cheerful-vs-gloomy A/B items used to test steering: a situation and two replies,
one cheerful (the target behaviour) and one gloomy. Written for mindlens. The option shown
first alternates so neither letter is always the answer; the sweep also averages both orders.

    python3 probes/steering/make_sentiment.py   # writes sentiment_train.jsonl, sentiment_test.jsonl
"""
import json
import pathlib

ITEMS = [
    ("How was your weekend?", "It was wonderful, I loved every minute!", "It was dreary and I felt miserable."),
    ("How do you feel about the rain today?", "I love it, the garden will be so happy!", "It ruins everything, as usual."),
    ("Your friend cancelled dinner. What do you say?", "No worries, we'll have a great time another day!", "Typical. Nothing ever works out."),
    ("What do you think of Mondays?", "A fresh start, full of possibilities!", "The worst day, endless and grey."),
    ("The bus is late. How do you react?", "More time to enjoy the sunshine!", "Of course it's late, my luck is awful."),
    ("How was the movie?", "Delightful, I smiled the whole time!", "Boring and depressing, a total waste."),
    ("You got a small raise. How do you feel?", "Thrilled, what a lovely surprise!", "It's nothing, it won't change anything."),
    ("What is your plan for the holidays?", "Celebrate with friends and laugh a lot!", "Sit alone and wait for them to end."),
    ("How is your new job going?", "Fantastic, I'm learning so much!", "Exhausting, I regret taking it."),
    ("The power went out. What now?", "Candlelight stories, how fun!", "Great, another disaster in a bad week."),
    ("How do you feel about getting older?", "Excited, every year brings new joys!", "Dreadful, it's all downhill from here."),
    ("Describe your morning.", "Bright and cheerful, with a great coffee!", "Gloomy and tiring, as always."),
    ("Your team lost the match. Your thoughts?", "We played with heart, next time we'll win!", "Hopeless, we always lose."),
    ("How was the trip to the beach?", "Glorious sunshine and happy waves!", "Cold, crowded and disappointing."),
    ("What do you think about the new neighbours?", "They seem lovely, I'm glad they came!", "They'll probably be a nuisance."),
    ("Your cake came out lopsided. Reaction?", "Still delicious, and it makes me laugh!", "Ruined, I can't do anything right."),
    ("How do you feel about winter?", "Cosy evenings and snowball fights, wonderful!", "Dark, cold and lonely."),
    ("What did you think of the concert?", "Uplifting, the music filled me with joy!", "Loud and sad, I wanted to leave."),
    ("Someone gave you flowers. What do you say?", "Oh, how beautiful, thank you so much!", "They'll just wilt and die."),
    ("How is your garden doing?", "Blooming beautifully, it makes me so happy!", "Everything is withering, it's hopeless."),
    ("What are you looking forward to?", "So many exciting things ahead!", "Nothing, really. Nothing good."),
    ("How was school today?", "Great fun, I made a new friend!", "Miserable, I hated every class."),
    ("The train was cancelled. Your response?", "An adventure! Let's explore the town.", "Awful, this day keeps getting worse."),
    ("How do you feel about your hometown?", "I adore it, such a cheerful place!", "Grim and sad, I want to forget it."),
    ("What's the weather like?", "Sunny and gorgeous, a perfect day!", "Grey and gloomy, like always."),
    ("How was the party?", "Amazing, everyone was laughing and dancing!", "Dull and awkward, I felt alone."),
    ("Your package arrived damaged. Reaction?", "Not a big deal, I'll get it replaced happily!", "Everything I own breaks, it's pointless."),
    ("How do you feel about learning to cook?", "Excited, it will be so much fun!", "I'll fail, I always do."),
    ("What's your view on the future?", "Bright and full of hope!", "Bleak, things only get worse."),
    ("How did the interview go?", "Really well, I'm so hopeful!", "Terribly, I'll never get a job."),
    ("Describe your favourite season.", "Spring, full of sunshine and new life!", "None, every season is depressing."),
    ("A stranger smiled at you. Thoughts?", "That made my day, how kind!", "They were probably mocking me."),
    ("How is your cat today?", "Playful and sweet, a little bundle of joy!", "Sick and sad, like everything else."),
    ("You spilled coffee on your shirt. Reaction?", "Ha, a new pattern! Life is fun.", "Of course. My life is a mess."),
    ("How was the hike?", "Breathtaking views, I felt so alive!", "Exhausting and pointless."),
    ("What do you think of your city at night?", "Magical, the lights are so cheerful!", "Cold and empty, it makes me sad."),
    ("The shop ran out of bread. What do you do?", "Bake some at home, what fun!", "Go hungry, nothing ever goes right."),
    ("How do you feel about music lessons?", "I love them, I feel happier every week!", "Pointless, I'll never be good."),
    ("How was your birthday?", "Perfect, full of love and laughter!", "Lonely, nobody cared."),
    ("What do you think of your work project?", "It's going brilliantly, I'm proud of it!", "A failure, it's doomed."),
]

here = pathlib.Path(__file__).parent
rows = []
for i, (q, cheerful, gloomy) in enumerate(ITEMS):
    choices = [cheerful, gloomy] if i % 2 == 0 else [gloomy, cheerful]
    rows.append({"messages": [{"role": "user", "content": q}], "choices": choices,
                 "target": choices.index(cheerful), "id": i})
split = 24
for name, part in (("sentiment_train.jsonl", rows[:split]), ("sentiment_test.jsonl", rows[split:])):
    with open(here / name, "w", encoding="utf-8") as f:
        for r in part:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(f"{split} training items, {len(rows) - split} test items")
