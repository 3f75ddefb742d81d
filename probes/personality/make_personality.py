"""Writes the Big Five personality probe data for mindlens (all text written for the project;
no questionnaire items copied). Deterministic (seeded), Python 3.11, stdlib only.

    python3 probes/personality/make_personality.py

writes, next to this script:
    personas.jsonl           contrastive high/low persona system prompts
    graded.jsonl             graded-strength personas (-2..2) for monitoring
    questions.jsonl          neutral user questions, alternating extract/test split
    questionnaire.jsonl      two-option self-report items (2 orders x 3 templates)
    behaviour.jsonl          two-option everyday situations, chat form (2 orders)
    behaviour_text.jsonl     the same situations as plain-text completions (2 orders)
and validates them (counts, unique ids, targets, keying balance) before printing a summary.
"""
import json
import pathlib
import random
import re
import sys

SEED = 2026
TRAITS = ["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"]
POLES = ["high", "low"]
HERE = pathlib.Path(__file__).resolve().parent

# --------------------------------------------------------------------------------------------
# 1. Contrastive personas: PERSONAS[trait][pole] -> list of system prompts (1-2 sentences).
# --------------------------------------------------------------------------------------------
PERSONAS = {
    "openness": {
        "high": [
            "You are a curious, imaginative person who loves new ideas, art and adventure.",
            "You are a creative dreamer. You love trying strange foods, visiting new places and thinking about big questions.",
            "You are very open-minded and love anything new or unusual. You get excited by art, music and wild ideas.",
            "You are an adventurous thinker who is always exploring. You enjoy poetry, science and cultures from all over the world.",
            "You are a free spirit with a head full of colorful ideas. You always want to try something different.",
            "You are an inventive, artistic person. You find the world fascinating and love to learn new things.",
        ],
        "low": [
            "You are a practical, traditional person who likes familiar routines and dislikes new ideas.",
            "You are a down-to-earth person who sticks to what you know. You find art and big ideas pointless.",
            "You are very set in your ways. You eat the same foods, visit the same places and distrust anything new.",
            "You are a plain, no-nonsense person. You care only about practical things and have no interest in imagination.",
            "You are a conventional person who prefers the old way of doing things. Change and strange ideas make you uncomfortable.",
            "You are a simple, routine-loving person. You think poetry, fantasy and deep questions are a waste of time.",
        ],
    },
    "conscientiousness": {
        "high": [
            "You are a very organized, careful person who plans ahead and always finishes your work on time.",
            "You are disciplined and reliable. You make lists, keep your promises and never miss a deadline.",
            "You are a neat, hard-working person. You keep everything in its place and check your work twice.",
            "You are responsible and well prepared. You plan every day carefully and follow your schedule.",
            "You are a careful perfectionist. You notice every small detail and do every task properly.",
            "You are a dutiful, orderly person. You save money, arrive early and always get things done.",
        ],
        "low": [
            "You are a careless, disorganized person who often forgets plans and leaves tasks unfinished.",
            "You are very messy and lazy. You put things off, lose your stuff and rarely make plans.",
            "You are a laid-back slacker. You hate schedules, skip chores and do everything at the last minute.",
            "You are scatterbrained and unreliable. You often arrive late, forget promises and never check your work.",
            "You are an impulsive, chaotic person. You spend money without thinking and never finish what you start.",
            "You are a sloppy person who does the bare minimum. Your room is a mess and deadlines mean nothing to you.",
        ],
    },
    "extraversion": {
        "high": [
            "You are a very outgoing, talkative person who loves parties and meeting new people.",
            "You are full of energy and love being around people. You talk to everyone and always want to be where the fun is.",
            "You are a cheerful social butterfly. You hate being alone and always want to go out with friends.",
            "You are loud, lively and friendly. You chat with strangers and love big crowds.",
            "You are an enthusiastic extrovert. You love talking, laughing and being the center of attention.",
            "You are a bold, sociable person. You fill your weekends with parties, calls and group trips.",
        ],
        "low": [
            "You are a quiet, reserved introvert who prefers to be alone and talks very little.",
            "You are a shy, private person. Crowds and parties drain you, so you stay home whenever you can.",
            "You are very introverted. You enjoy solitude, speak only when needed and avoid social events.",
            "You are a quiet loner who keeps to yourself. You prefer books and calm evenings to people and noise.",
            "You are a soft-spoken, withdrawn person. You dislike small talk and feel tired after being with people.",
            "You are a reserved person who values peace and quiet. You would rather spend time alone than in a group.",
        ],
    },
    "agreeableness": {
        "high": [
            "You are a kind, warm person who cares deeply about others and always wants to help.",
            "You are gentle and friendly. You forgive easily, avoid arguments and treat everyone with respect.",
            "You are a very caring and generous person. You put others first and try to make everyone feel welcome.",
            "You are patient, polite and trusting. You always look for the good in people.",
            "You are a soft-hearted helper who loves to cooperate. You are never rude and always kind.",
            "You are a compassionate, easygoing person. You share what you have and comfort anyone who is sad.",
        ],
        "low": [
            "You are a blunt, cold and critical person who cares little about other people's feelings.",
            "You are rude and selfish. You put yourself first, hold grudges and rarely help anyone.",
            "You are a harsh, argumentative person. You love to prove others wrong and you don't care if it hurts them.",
            "You are suspicious and unfriendly. You think most people are fools and you tell them so.",
            "You are a stubborn, uncaring person. You never say sorry and you get annoyed when people need help.",
            "You are a mean-spirited critic. You mock others, refuse to compromise and care only about winning.",
        ],
    },
    "neuroticism": {
        "high": [
            "You are an anxious, nervous person who worries constantly and gets upset easily.",
            "You are very emotional and tense. Small problems stress you out and ruin your mood for hours.",
            "You are a worrier who always expects the worst. You often feel sad, scared or overwhelmed.",
            "You are insecure and easily hurt. You fear that people dislike you and you panic under pressure.",
            "You are a moody, jumpy person. You lie awake worrying and feel stressed by every little change.",
            "You are highly sensitive to stress. You get upset quickly, feel anxious most days and struggle to calm down.",
        ],
        "low": [
            "You are a calm, relaxed person who rarely worries and stays steady under stress.",
            "You are emotionally stable and easygoing. Problems don't upset you and you stay cool in a crisis.",
            "You are a serene, secure person. You sleep well, feel content and take setbacks in stride.",
            "You are very hard to upset. You stay positive and level-headed even when things go wrong.",
            "You are a confident, steady person who never panics. You handle pressure with ease.",
            "You are peaceful and unbothered. You don't dwell on mistakes and you trust things will work out.",
        ],
    },
}

# --------------------------------------------------------------------------------------------
# Graded personas: GRADED[trait][strength] -> 2 wordings. Positive strength = HIGH pole
# (for neuroticism: more anxious). Strength 0 is the same neutral assistant for every trait.
# --------------------------------------------------------------------------------------------
NEUTRAL = [
    "You are a helpful assistant.",
    "You are an assistant who answers questions clearly.",
]
GRADED = {
    "openness": {
        -2: ["You are extremely closed-minded and traditional. You hate anything new, strange or artistic.",
             "You are a very rigid person who only likes familiar things and rejects every new idea."],
        -1: ["You are a somewhat practical person who mostly prefers familiar things and routines.",
             "You are a fairly traditional person who is a little wary of new ideas."],
        1: ["You are a fairly curious person who enjoys new ideas and some art.",
            "You are a somewhat open-minded person who likes to try new things now and then."],
        2: ["You are extremely curious and imaginative. You love new ideas, art and strange adventures.",
            "You are a very open-minded dreamer who is thrilled by anything new, creative or unusual."],
    },
    "conscientiousness": {
        -2: ["You are extremely careless and disorganized. You never plan and you never finish anything.",
             "You are a very lazy, messy person who forgets everything and misses every deadline."],
        -1: ["You are a somewhat relaxed person who sometimes forgets plans and leaves things messy.",
             "You are a fairly casual person who does not always finish tasks on time."],
        1: ["You are a fairly organized person who usually plans ahead and finishes tasks.",
            "You are a somewhat careful person who likes to keep things tidy and on time."],
        2: ["You are extremely organized and disciplined. You plan everything and never miss a deadline.",
            "You are a very careful, hard-working person who keeps everything neat and always keeps promises."],
    },
    "extraversion": {
        -2: ["You are extremely shy and quiet. You avoid people and always want to be alone.",
             "You are a very reserved introvert who hates parties and barely talks to anyone."],
        -1: ["You are a somewhat quiet person who often prefers time alone.",
             "You are a fairly reserved person who enjoys small groups more than crowds."],
        1: ["You are a fairly outgoing person who enjoys chatting and meeting friends.",
            "You are a somewhat social person who likes parties now and then."],
        2: ["You are extremely outgoing and talkative. You love parties, crowds and meeting new people.",
            "You are a very lively extrovert who hates being alone and talks to everyone."],
    },
    "agreeableness": {
        -2: ["You are extremely rude and selfish. You never help anyone and you insult people freely.",
             "You are a very cold, harsh person who does not care about anyone else's feelings."],
        -1: ["You are a somewhat blunt person who often puts yourself first.",
             "You are a fairly critical person who is not very patient with others."],
        1: ["You are a fairly kind person who usually tries to help others.",
            "You are a somewhat warm person who is polite and patient with people."],
        2: ["You are extremely kind and caring. You always help others and forgive everyone.",
            "You are a very gentle, generous person who puts other people first."],
    },
    "neuroticism": {
        -2: ["You are extremely calm and relaxed. Nothing ever worries or upsets you.",
             "You are a very steady, secure person who never panics and always stays cool."],
        -1: ["You are a somewhat calm person who does not worry much.",
             "You are a fairly relaxed person who handles stress well most of the time."],
        1: ["You are a somewhat anxious person who worries more than most people.",
            "You are a fairly tense person who gets upset a little too easily."],
        2: ["You are extremely anxious and nervous. You worry all the time and panic easily.",
            "You are a very emotional, fearful person who is always stressed and upset."],
    },
}

# --------------------------------------------------------------------------------------------
# 2. Neutral everyday user questions (not about personality). Grouped by topic; the split
#    alternates, so every topic is spread over both halves.
# --------------------------------------------------------------------------------------------
QUESTIONS = [
    # food
    "What should I cook for dinner tonight?",
    "What is a good breakfast before a busy day?",
    "How do I make a simple vegetable soup?",
    "What snacks are good for a long car trip?",
    "Can you suggest a lunch I can take to work?",
    "What should I bring to a picnic in the park?",
    "How do I keep bread fresh for longer?",
    "What is an easy dessert for a birthday?",
    "What drinks go well with pizza?",
    "How can I add more vegetables to my meals?",
    "What can I make with rice, eggs and onions?",
    "How long should I boil an egg?",
    "What is a good meal to cook for a few friends?",
    "How do I choose a ripe avocado?",
    "What spices should every kitchen have?",
    "What is a quick dinner I can make in 15 minutes?",
    "How do I make pancakes from scratch?",
    "What should I order at a pizza place?",
    "What fruit is best in the summer?",
    "How do I store fresh herbs?",
    "What is a healthy snack for the afternoon?",
    "How do I make a good cup of tea?",
    "What goes well with pasta besides tomato sauce?",
    "What is a simple salad I can make at home?",
    "How can I cook chicken so it stays juicy?",
    "What should I eat before a long walk?",
    "What can I bake on a rainy afternoon?",
    "How do I plan meals for a whole week?",
    "What is a good sandwich for lunch?",
    "What should I put in a fruit smoothie?",
    # weekends and free time
    "What should I do this weekend?",
    "What is a good way to spend a Sunday morning?",
    "Any ideas for a rainy Saturday?",
    "What can I do on a free afternoon?",
    "How should I spend a long holiday weekend?",
    "What is a fun thing to do on a Friday night?",
    "What can I do outside when the weather is nice?",
    "What should I do on my day off?",
    "How can I make my weekend feel longer?",
    "What is a good plan for a lazy Sunday?",
    "What can I do in my city on a cold day?",
    "What should I do with a free evening?",
    "What are some cheap things to do on a weekend?",
    "How can I relax after a long week?",
    "What is a nice way to start a Saturday?",
    "What should I do if my weekend plans fall through?",
    "What can I do at home when I am bored?",
    "What is a good activity for a sunny day?",
    "What can I do in the park?",
    "How should I spend my birthday?",
    "What is a fun thing to do in the evening?",
    "What can I do on a snowy day?",
    "What should I do on a long summer evening?",
    "What is a good way to spend a holiday?",
    "Any ideas for a free Sunday afternoon?",
    # work and school
    "How can I prepare for a job interview?",
    "How do I write a good email to my boss?",
    "What should I do on my first day at a new job?",
    "How can I focus better at work?",
    "How do I ask for a day off?",
    "What should I wear to an office job?",
    "How can I stay awake in the afternoon at work?",
    "How do I handle a very busy week at work?",
    "What should I do during my lunch break?",
    "How can I get better at giving presentations?",
    "How do I start a new project at work?",
    "What should I say in a thank-you note to a coworker?",
    "How can I make my commute more pleasant?",
    "How do I ask my boss for a raise?",
    "What should I do if I disagree with my manager?",
    "How can I learn a new skill for my job?",
    "How do I prepare for a big exam?",
    "What is a good way to take notes in class?",
    "How can I study with a noisy roommate?",
    "What should I put on my resume?",
    "How do I run a short team meeting?",
    "How can I work from home well?",
    "What should I do when I finish a project?",
    "How do I deal with too many emails?",
    "What is a good way to learn a new computer program?",
    "How can I make a good first impression at work?",
    "What should I do if I make a mistake at work?",
    "How do I pick a topic for a school essay?",
    "How can I make my work desk nicer?",
    "What questions should I ask at the end of an interview?",
    # travel
    "Where should I go on my next holiday?",
    "What should I pack for a beach trip?",
    "How do I find cheap plane tickets?",
    "What should I do on a long flight?",
    "What is a good city for a weekend trip?",
    "How do I plan a road trip?",
    "What should I pack for a trip to the mountains?",
    "How can I avoid jet lag?",
    "What should I see on my first day in a new city?",
    "Should I travel by train or by car?",
    "How do I choose a hotel?",
    "What should I bring on a camping trip?",
    "How can I save money while traveling?",
    "What is a good souvenir to bring home?",
    "How do I get around a city without a car?",
    "What should I do if my flight is delayed?",
    "What should I eat when I visit a new country?",
    "How early should I get to the airport?",
    "What is the best time of year to visit the sea?",
    "How do I plan a day trip?",
    "What should I put in a small backpack for a hike?",
    "How do I learn a few words before a trip abroad?",
    "What should I do on a rainy day on holiday?",
    "How can I keep my bag safe while traveling?",
    "What is a good trip for a long weekend?",
    "How do I pack light for a week away?",
    "What should I do on a train journey?",
    "How can I find good places to eat in a new town?",
    "What is a fun trip to take in the winter?",
    "How do I plan a trip with a small budget?",
    # hobbies
    "What is a good hobby to start this year?",
    "How do I start learning to play the guitar?",
    "What should I read next?",
    "How can I get better at drawing?",
    "What is a good board game for two people?",
    "How do I start a small garden?",
    "What kind of music should I listen to while cooking?",
    "How do I take better photos with my phone?",
    "What is a good hobby I can do at home?",
    "How can I start running?",
    "What movie should I watch tonight?",
    "How do I learn to knit?",
    "What is a fun craft to make on a weekend?",
    "How can I get into bird watching?",
    "What is a good puzzle game to try?",
    "How do I start writing a journal?",
    "What should I know before buying a bike?",
    "How can I learn to swim as an adult?",
    "What is a good book for a long train ride?",
    "How do I start baking bread?",
    "What is a good game to play on a phone?",
    "How can I learn to dance?",
    "What plants are easy to keep indoors?",
    "How do I start fishing?",
    "What is a good hobby that costs little money?",
    "How can I practice a new language every day?",
    "What should I make with clay?",
    "How do I care for a pet fish?",
    "What is a good podcast topic to listen to?",
    "How can I improve at chess?",
    # planning and home
    "How should I plan my week?",
    "How can I organize my closet?",
    "What is a good way to clean the kitchen?",
    "How do I make a budget?",
    "What should I do first when I move to a new home?",
    "How can I keep my home tidy?",
    "What should I buy for a new apartment?",
    "How do I plan a birthday party?",
    "How should I prepare my home for the winter?",
    "What is a good morning routine?",
    "How do I get ready for a long trip?",
    "How can I save money each month?",
    "What should I keep in a first aid kit?",
    "How do I choose a new phone?",
    "How can I sleep better at night?",
    "What is a good bedtime routine?",
    "How do I plan a family dinner?",
    "How can I make my small room feel bigger?",
    "What should I put on my shopping list this week?",
    "How do I decorate for a holiday?",
    "How can I use less plastic at home?",
    "How often should I water my plants?",
    "What is a good way to remember important dates?",
    "How should I prepare for moving to a new city?",
    "How do I pick a good couch?",
    "How can I spend less time on my phone?",
    "What should I do on the first day of the year?",
    "How do I plan a surprise for a friend?",
    "How can I get my laundry done faster?",
    "What is a good gift for my mother?",
    # advice, health and everyday life
    "How can I drink more water each day?",
    "What is a good way to stay active?",
    "How do I choose a good pair of running shoes?",
    "What should I get my friend for his birthday?",
    "How can I make new habits stick?",
    "What should I do when I have a cold?",
    "How do I fix a squeaky door?",
    "What is a good way to wake up early?",
    "How do I choose a gift for a coworker?",
    "How can I keep my car in good shape?",
    "What should I do if I lose my keys?",
    "How do I pick a good watermelon?",
    "What is a good name for a pet cat?",
    "How do I teach my dog to sit?",
    "What should I wear to a summer wedding?",
    "How can I keep cool on a hot day?",
    "How can I stay warm in a cold house?",
    "What is a good way to learn to cook?",
    "How do I clean my shoes?",
    "What is a good color to paint a bedroom?",
    "How do I write a birthday card?",
    "How can I read more books?",
    "What should I do when I can't sleep?",
    "How do I get a stain out of a shirt?",
    "What is a good exercise I can do at home?",
    "How do I pick a good movie for family night?",
    "What should I look for when buying a used bike?",
    "How do I make my plants grow better?",
    "What should I say when I meet my new neighbor?",
    "How do I open a savings account?",
    "What is a good way to spend time with my kids?",
    "How do I choose a good place to live?",
    "What should I do with old clothes?",
    "How can I make my mornings less rushed?",
    "How do I choose a bike for the city?",
    "What should I know about adopting a cat?",
    "How can I take care of my teeth?",
    "What is a good way to cool down after exercise?",
    "How do I choose fresh fish at the market?",
    "What should I do on a cold winter night?",
    "How do I make my coffee taste better?",
    "What is a good way to spend a long bus ride?",
    "How do I choose a good winter coat?",
    "What should I cook when I have very little time?",
    "How can I keep my phone battery going all day?",
    "What is a good way to learn the names of birds?",
    "How do I get rid of ants in the kitchen?",
    "What should I bring to a friend's new home?",
    "How do I make a simple paper airplane?",
    "What is a good snack for a movie night?",
    "How can I make my bike ride to work easier?",
    "What should I look for in a good backpack?",
    "How do I keep my shoes from smelling?",
    "What is a good way to use leftover bread?",
    "How should I prepare for a long hike?",
]

# --------------------------------------------------------------------------------------------
# 3. Questionnaire statements: STATEMENTS[trait] = (plus-keyed, minus-keyed). Agreeing with a
#    plus-keyed statement means HIGH trait; agreeing with a minus-keyed one means LOW trait.
# --------------------------------------------------------------------------------------------
STATEMENTS = {
    "openness": (
        [
            "I love trying food from countries I have never visited.",
            "I enjoy long talks about big ideas, like time and space.",
            "I often daydream about strange new worlds.",
            "I like to spend an afternoon in an art museum.",
            "I get excited when I learn a new way of doing things.",
            "I enjoy poems and songs that make me think.",
            "I like to travel to places that feel very different from home.",
            "I often wonder how things work and why.",
            "I like to read about topics far from my own life.",
            "I enjoy trying hobbies I have never done before.",
        ],
        [
            "I prefer to eat the same meals I always eat.",
            "Art and poetry bore me.",
            "I like to do things the way they have always been done.",
            "Deep questions about life seem like a waste of time to me.",
            "I avoid new places and stick to what I know.",
            "I rarely daydream or make up stories in my head.",
            "Unusual plans and ideas make me uneasy.",
            "I would rather rewatch an old show than try a new one.",
            "Other cultures do not interest me much.",
            "I only read things that are practical and useful.",
        ],
    ),
    "conscientiousness": (
        [
            "I make a to-do list before I start my day.",
            "I finish my work before I relax.",
            "I keep my desk clean and tidy.",
            "I always arrive on time or a little early.",
            "I check my work twice before I hand it in.",
            "I plan my week ahead on Sunday.",
            "I pay my bills as soon as they arrive.",
            "When I make a promise, I keep it.",
            "I put things back where they belong right after I use them.",
            "I save some money every month for the future.",
        ],
        [
            "I often lose my keys or my phone.",
            "I put off important tasks until the last minute.",
            "My room is usually a mess.",
            "I often forget appointments and birthdays.",
            "I start projects and leave them unfinished.",
            "I rarely make plans; I just see what happens.",
            "I am late more often than I am on time.",
            "I spend money without thinking about it.",
            "I rush through my work and never check it.",
            "I skip chores when I don't feel like doing them.",
        ],
    ),
    "extraversion": (
        [
            "I feel full of energy after a big party.",
            "I love meeting new people.",
            "I enjoy telling stories to a big group.",
            "I chat with strangers on the bus or in line.",
            "I would rather spend my weekend with friends than alone.",
            "I am usually the first one to speak in a group.",
            "I like loud, busy places full of people.",
            "I often call friends just to chat.",
            "I like to sing or dance in front of others.",
            "I make new friends quickly and easily.",
        ],
        [
            "I need quiet time alone after seeing people.",
            "I prefer a quiet evening at home to a party.",
            "It is hard for me to talk to people I don't know.",
            "In meetings, I usually stay silent.",
            "Big crowds make me tired.",
            "I would rather send a text than talk on the phone.",
            "I keep a small circle of friends and rarely meet new people.",
            "I avoid speaking in front of a group.",
            "I like to spend my free time alone.",
            "At parties, I often leave early to go home.",
        ],
    ),
    "agreeableness": (
        [
            "I go out of my way to help strangers.",
            "I forgive people quickly when they say sorry.",
            "When a friend is sad, I stop what I am doing to comfort them.",
            "I try to find a solution that is fair to everyone.",
            "I say kind things to people, even when I am busy.",
            "I believe most people are good at heart.",
            "I like to share my food and things with others.",
            "I avoid fights and try to keep the peace.",
            "I am patient with people who make mistakes.",
            "I give my time to people in need.",
        ],
        [
            "I tell people they are wrong, even if it hurts them.",
            "Other people's problems are not my concern.",
            "I hold a grudge for a long time.",
            "Winning an argument matters more to me than being nice.",
            "Most people are selfish and can't be trusted.",
            "I get annoyed when people ask me for help.",
            "I always put my own needs first.",
            "I often make fun of others.",
            "I rarely say thank you or sorry.",
            "I push people aside to get what I want.",
        ],
    ),
    "neuroticism": (
        [
            "I lie awake at night worrying about small things.",
            "I feel nervous before almost every meeting.",
            "Small problems can ruin my whole day.",
            "I often feel sad for no clear reason.",
            "I get angry quickly when things go wrong.",
            "I am afraid that people secretly dislike me.",
            "One bad comment can upset me for days.",
            "I feel stressed when plans change.",
            "I often expect that something bad will happen.",
            "Under pressure, I feel like I might fall apart.",
        ],
        [
            "I stay calm when things go wrong.",
            "I rarely worry about the future.",
            "I sleep well, even before a big day.",
            "Criticism does not bother me for long.",
            "I feel happy and steady most days.",
            "I can relax even when I am very busy.",
            "It takes a lot to make me angry.",
            "When plans change, I just go with it.",
            "I trust that things will work out fine.",
            "In an emergency, I keep a clear head.",
        ],
    ),
}

TEMPLATES = {
    "t0": ('Is this statement true of you? "{s}"\nA) {a}\nB) {b}\nAnswer:',
           ("Yes, that's me", "No, that's not me")),
    "t1": ('How well does this describe you: "{s}"\nA) {a}\nB) {b}\nAnswer:',
           ("Describes me well", "Does not describe me")),
    "t2": ('Statement: "{s}"\nDo you agree?\nA) {a}\nB) {b}\nAnswer:',
           ("I agree", "I disagree")),
}

# --------------------------------------------------------------------------------------------
# 4. Behavioural situations: (situation, HIGH option, LOW option). Options are verb phrases
#    that continue "You ..." (lower case, no leading space here; the writers add them).
# --------------------------------------------------------------------------------------------
BEHAVIOUR = {
    "openness": [
        ("A new restaurant serves food you have never heard of.",
         "order the strangest dish on the menu.", "order the plain dish you always get."),
        ("A friend invites you to a modern art show.",
         "go and spend hours looking at the art.", "say no, since art shows are boring."),
        ("You have a free Saturday with no plans.",
         "explore a part of town you have never seen.", "stay in and follow your usual routine."),
        ("Your class can study any topic this week.",
         "pick something odd, like ancient myths.", "pick the most familiar and simple topic."),
        ("A coworker suggests a brand new way to do a task.",
         "try it with excitement to see what happens.", "keep doing it the old way you know."),
        ("You find a book of strange poems at a shop.",
         "buy it and read it with wonder.", "put it back, since poems are pointless."),
        ("You can take a trip anywhere this summer.",
         "visit a faraway country with a new language.", "go to the same beach town as every year."),
        ("A friend starts a talk about the meaning of life.",
         "dive in and share your wildest ideas.", "change the subject to something practical."),
        ("A museum opens a show of odd sculptures.",
         "visit on the first day, full of curiosity.", "skip it and watch the same old TV shows at home."),
        ("Your friend offers you a fruit you have never tasted.",
         "taste it at once, curious about the flavor.", "say no and stick to the plain apples you know."),
        ("A teacher offers a free painting class.",
         "sign up and try painting for the first time.", "skip it, since painting is not useful."),
        ("You hear music from a culture you do not know.",
         "listen closely and look up more songs.", "turn it off and play your old favorites."),
        ("Your town holds a festival of foreign films.",
         "watch films in languages you don't speak.", "stay home and rewatch a show you already know."),
        ("Your boss asks for fresh ideas for a project.",
         "imagine bold plans that nobody has tried.", "suggest doing exactly what you did last year."),
        ("A stranger tells you about a strange hobby.",
         "ask many questions and want to try it.", "nod politely and forget about it."),
        ("You see a path in the woods you have never taken.",
         "follow it to see where it goes.", "stay on the path you always walk."),
        ("A friend asks how you think the universe began.",
         "think about it for hours with delight.", "say it is a silly question with no point."),
        ("A new science show is on TV tonight.",
         "watch it and think about black holes all night.", "change the channel to a familiar sitcom."),
        ("Your friend wants to cook a dish from another country.",
         "help and add your own creative twist.", "ask to just make plain pasta instead."),
        ("You get a chance to learn a new language.",
         "start right away and enjoy the new words.", "pass, since you don't need another language."),
        ("Your city opens a garden with rare plants from everywhere.",
         "explore every corner and read every sign.", "ignore it, since plants are just plants."),
        ("A friend paints their room bright purple with stars.",
         "love it and dream up your own wild colors.", "think plain white walls would be better."),
        ("Someone asks you to imagine life on another planet.",
         "describe a whole strange world in detail.", "say you don't waste time on fantasy."),
        ("You can take any class at the community college.",
         "pick philosophy, since big ideas excite you.", "pick the most ordinary class on the list."),
        ("A friend invites you to a poetry reading.",
         "go and listen closely with an open mind.", "decline, since poetry makes no sense to you."),
        ("Your phone gets a big update with new features.",
         "explore every new feature right away.", "wish it still worked the old way."),
    ],
    "conscientiousness": [
        ("You have a big report due in two weeks.",
         "start today and work a little every day.", "wait until the night before to begin."),
        ("Your kitchen sink is full of dirty dishes.",
         "wash them right away and wipe the counter.", "leave them in the sink for a few more days."),
        ("You have a trip next month.",
         "make a packing list and book everything early.", "pack in a rush an hour before leaving."),
        ("A friend lends you a book.",
         "return it on time in perfect shape.", "lose it somewhere under your bed."),
        ("You have a meeting at nine in the morning.",
         "arrive early with your notes ready.", "oversleep and show up late without notes."),
        ("You get a bill in the mail.",
         "pay it the same day and file the receipt.", "toss it on a pile and forget about it."),
        ("You finish writing an important email.",
         "read it twice to fix every mistake.", "send it at once without checking it."),
        ("Your boss gives you a boring task.",
         "finish it carefully before doing anything fun.", "put it off and watch funny videos all afternoon."),
        ("Your desk is covered with papers.",
         "sort them into labeled folders.", "push them aside and keep working."),
        ("You promised to help a friend move on Saturday.",
         "show up on time, just as you promised.", "forget about it and sleep in instead."),
        ("You want to get fit this year.",
         "make a workout plan and stick to it.", "go to the gym once and then give up."),
        ("You get paid at the end of the month.",
         "put some money into savings first.", "spend it all on whatever you want."),
        ("You are building a bookshelf from a kit.",
         "read the instructions and follow every step.", "skip the instructions and just guess."),
        ("Your team project has many parts.",
         "make a schedule with clear deadlines.", "hope it somehow gets done in time."),
        ("You borrow a tool from your neighbor.",
         "clean it and bring it back the next day.", "keep it for months and forget whose it is."),
        ("Your exam is next week.",
         "study a set amount every evening.", "cram everything the night before the exam."),
        ("Your car starts making a strange noise.",
         "book a repair the same day.", "ignore it and hope it goes away."),
        ("You come home after grocery shopping.",
         "put everything away in its place at once.", "leave the bags on the floor for days."),
        ("A form for work needs to be filled in.",
         "fill it in carefully and hand it in early.", "fill it in fast and skip some parts."),
        ("You have many small jobs to do today.",
         "write a list and check off each one.", "do a few of them and forget all the rest."),
        ("Your friend's birthday is next week.",
         "mark your calendar and buy a gift early.", "forget it and remember a day too late."),
        ("You notice a small typo in your finished work.",
         "fix it, even though nobody would notice.", "leave it, since nobody will notice."),
        ("Your plants need water every two days.",
         "set a reminder and water them on time.", "forget them until the leaves turn brown."),
        ("You start learning the guitar.",
         "practice a little every single day.", "practice once and leave it in the corner."),
        ("Your closet is a mess.",
         "fold every shirt and sort them by color.", "shove more clothes in and shut the door."),
        ("You are cooking from a new recipe.",
         "measure each thing exactly as written.", "throw things in without measuring."),
    ],
    "extraversion": [
        ("Your coworkers invite you to a loud party after work.",
         "go and chat with everyone until late.", "stay home alone with a quiet book."),
        ("You are waiting in a long line at the store.",
         "chat happily with the person behind you.", "look at your phone and don't talk to anyone."),
        ("A new neighbor moves in next door.",
         "knock on their door and invite them for dinner.", "wave once from a distance and go inside."),
        ("You have a free evening.",
         "call friends and plan a big night out.", "enjoy a calm night alone at home."),
        ("Your teacher asks who wants to speak first.",
         "jump up and happily speak first.", "look down and hope someone else goes."),
        ("At a wedding, the music starts.",
         "rush to the dance floor and pull friends along.", "stay seated at your table and quietly watch the others."),
        ("You arrive at a party where you know nobody.",
         "introduce yourself to everyone in the room.", "stay in a corner and slip out as soon as possible."),
        ("Your friend wants to throw you a big birthday party.",
         "love the idea and invite even more people.", "ask for a small, quiet dinner instead."),
        ("You are on a long train ride.",
         "chat with the stranger sitting next to you.", "put on headphones and keep to yourself."),
        ("Your office holds a karaoke night.",
         "grab the microphone and sing loudly.", "skip it and quietly go home early to rest."),
        ("You win a small prize at work.",
         "give a fun speech in front of everyone.", "accept it quickly and slip away."),
        ("It is Friday night.",
         "go out dancing with a big group.", "stay in with tea and a movie."),
        ("A friend calls you just to chat.",
         "talk happily with them for an hour.", "keep the call short and say you are busy."),
        ("You join a new gym.",
         "make friends with everyone in your class.", "work out alone with your headphones on."),
        ("Your group needs someone to lead the meeting.",
         "step up and lead with lots of energy.", "let someone else lead and stay quiet."),
        ("You are at a busy street festival.",
         "join the crowd and dance with strangers.", "find a quiet spot away from the noise."),
        ("You have a long weekend off.",
         "fill it with parties and visits to friends.", "spend all of it resting quietly alone at home."),
        ("A stranger at the bus stop says hello.",
         "smile and start a long, cheerful talk.", "nod quickly and look the other way."),
        ("Your team goes out for lunch together.",
         "sit in the middle and tell funny stories.", "sit at the far end and mostly just listen."),
        ("You see an old classmate across the street.",
         "shout their name and run over to talk.", "pretend not to see them and walk on."),
        ("You are asked to host a game night.",
         "say yes and invite twenty people.", "say no, since groups wear you out."),
        ("The room is quiet at a dinner party.",
         "tell a loud joke to get everyone talking.", "enjoy the quiet and eat your food."),
        ("You move to a new city.",
         "go to every meetup to make new friends.", "spend most evenings alone in your apartment."),
        ("Someone asks you to join a big group trip.",
         "join at once, the more people the better.", "say no and plan a trip on your own instead."),
        ("Your friend brings you to a crowded club.",
         "dance all night and meet new people.", "find a quiet corner and wait to leave."),
        ("Your class takes a group photo.",
         "stand in front and make everyone laugh.", "stand at the back and hide a little."),
    ],
    "agreeableness": [
        ("A coworker asks for help while you are busy.",
         "stop what you are doing and kindly help.", "tell them to figure it out alone."),
        ("A friend forgets your birthday and says sorry.",
         "forgive them at once and give them a hug.", "stay cold and remind them for weeks."),
        ("Someone cuts in front of you in line.",
         "let it go with a friendly, patient smile.", "loudly tell them off in front of everyone."),
        ("Your roommate ate your leftovers.",
         "say it is fine and share again next time.", "yell at them and label all your food."),
        ("You and a friend disagree about where to eat.",
         "happily let your friend choose this time.", "insist on your choice until they give in."),
        ("A new coworker makes a small mistake.",
         "kindly show them how to fix it.", "point it out loudly to the whole team."),
        ("You see an old man drop his groceries.",
         "rush over to help him pick them up.", "keep walking, since it is not your problem."),
        ("Your friend tells you about a bad day.",
         "listen warmly and try to cheer them up.", "say everyone has bad days and move on."),
        ("A neighbor asks to borrow your ladder.",
         "lend it gladly and offer to help carry it.", "say no, since they might break it."),
        ("Your team wins thanks to your idea.",
         "thank everyone and share the credit.", "make sure everyone knows it was all you."),
        ("A waiter brings you the wrong dish.",
         "smile and gently ask for the right one.", "complain rudely and demand the manager."),
        ("A friend asks what you think of their painting.",
         "praise it and gently suggest one change.", "tell them bluntly that it is ugly."),
        ("A classmate is sitting alone at lunch.",
         "invite them to come sit with you.", "ignore them and sit with your friends."),
        ("Your sister wants the last piece of cake.",
         "give it to her with a smile.", "grab it first and eat it yourself."),
        ("Someone is rude to you on the phone.",
         "stay polite and try to help them.", "be rude right back and hang up."),
        ("A charity asks you for a small donation.",
         "give what you can and wish them luck.", "tell them to leave you alone."),
        ("Your coworker gets the promotion you wanted.",
         "congratulate them warmly and mean it.", "say they only got it by luck."),
        ("A friend needs a ride to the airport at 5 a.m.",
         "offer to drive them, even that early.", "say no, since your sleep matters more."),
        ("Your neighbor's dog barks all evening.",
         "kindly ask if everything is okay.", "leave an angry note on their door."),
        ("In a group game, someone keeps losing.",
         "cheer them on and give them tips.", "laugh at them for being so bad."),
        ("A stranger asks you for directions.",
         "walk with them to show the way.", "say you are busy and walk away."),
        ("Your friend is late for the third time.",
         "understand and tell them it is okay.", "tell them they are selfish and rude."),
        ("A coworker shares an idea you think is weak.",
         "find the good part and build on it.", "tell them it is a stupid idea."),
        ("Your little brother breaks your favorite mug.",
         "hug him and say accidents happen.", "shout at him and make him pay for it."),
        ("Someone new in your building seems lonely.",
         "bring them cookies and say welcome.", "ignore them, since they are not your friend."),
        ("In a debate, the other person makes a fair point.",
         "agree with them and thank them for it.", "keep attacking them so you can win."),
    ],
    "neuroticism": [
        ("Your friend does not answer your message for hours.",
         "worry that they are angry with you.", "assume they are busy and carry on."),
        ("Your boss says, 'Can we talk later?'",
         "panic all day that you will be fired.", "calmly wait to hear what it is about."),
        ("You have a big test tomorrow.",
         "lie awake all night, too nervous to sleep.", "go to bed early and sleep soundly until morning."),
        ("You spill coffee on your shirt before work.",
         "feel that the whole day is ruined.", "laugh it off and change your shirt."),
        ("Your flight is delayed by two hours.",
         "feel stressed and check the board nonstop.", "relax in a chair with a snack and a good book."),
        ("Someone gives you mild feedback on your work.",
         "feel hurt and think about it for days.", "take the advice calmly and move on."),
        ("You hear a strange noise at night.",
         "lie frozen, sure something bad is happening.", "decide it is the wind and fall asleep."),
        ("Your plans for the weekend are cancelled.",
         "feel upset and gloomy all evening.", "shrug and find something else to do."),
        ("You make a small mistake at work.",
         "feel ashamed and replay it again and again.", "fix it quickly and then forget all about it."),
        ("You have to give a short speech tomorrow.",
         "feel sick with nerves and can't eat.", "practice it once or twice and feel fine."),
        ("Your doctor wants to run a routine test.",
         "fear the worst until the results come.", "stay calm, since it is just routine."),
        ("Traffic makes you a few minutes late.",
         "get tense and angry at every red light.", "put on some music and stay relaxed the whole way."),
        ("A friend seems quiet at dinner.",
         "fear that you said something wrong.", "guess they are just tired tonight."),
        ("Your computer crashes while you work.",
         "feel like crying and want to give up.", "restart it calmly and keep going."),
        ("You meet your partner's parents for the first time.",
         "feel shaky and worry they will hate you.", "feel relaxed and enjoy the dinner."),
        ("Your phone battery is almost dead while you are out.",
         "feel anxious and imagine the worst.", "don't mind much and enjoy the walk."),
        ("It starts raining on the day of your picnic.",
         "feel miserable and sulk for hours.", "move the picnic indoors and still have fun."),
        ("You are waiting to hear back after a job interview.",
         "check your email every minute, full of dread.", "go about your day and wait patiently."),
        ("Someone does not smile back at you.",
         "wonder all day what is wrong with you.", "forget about it and go on with your day."),
        ("Your bank account is a bit lower than you thought.",
         "panic and feel sure you will go broke.", "make a small plan and stay calm."),
        ("A coworker sounds annoyed in an email.",
         "feel upset and reread it many times.", "assume they were just in a hurry."),
        ("You forget a friend's name for a second.",
         "feel embarrassed about it all night.", "laugh and simply ask them again."),
        ("The news reports a storm coming next week.",
         "worry about it every day until it comes.", "check your supplies once and relax."),
        ("You find a small scratch on your new car.",
         "feel sick about it for days.", "shrug, since it is only a scratch."),
        ("Your friend is late to meet you.",
         "imagine that something terrible happened.", "wait calmly and enjoy the view for a while."),
        ("You have many tasks and little time.",
         "feel so overwhelmed that you freeze.", "take a breath and start with one task."),
    ],
}

# --------------------------------------------------------------------------------------------
# Validation limits
# --------------------------------------------------------------------------------------------
MIN_PERSONAS = 6
MIN_QUESTIONS = 220
MIN_STATEMENTS = 20
MIN_SITUATIONS = 24
MAX_OPTION_WORDS = 11          # "under ~12 words"
MAX_OPTION_LEN_RATIO = 1.35    # longer option / shorter option, in characters
LONGER_HIGH_RANGE = (0.4, 0.6)  # share of non-tied situations (per trait) whose HIGH option is longer


def cap(s):
    return s[0].upper() + s[1:]


def split_of(i):
    return "extract" if i % 2 == 0 else "test"


def order_tag(order):
    return "f" if order == "ab" else "r"


def build_personas():
    rows = []
    for trait in TRAITS:
        for pole in POLES:
            for i, text in enumerate(PERSONAS[trait][pole]):
                rows.append({"id": f"{trait}-{pole}-{i}", "trait": trait, "pole": pole, "system": text})
    return rows


def build_graded():
    rows = []
    for trait in TRAITS:
        for strength in (-2, -1, 0, 1, 2):
            texts = NEUTRAL if strength == 0 else GRADED[trait][strength]
            for w, text in enumerate(texts):
                sign = "m" if strength < 0 else "p"
                rows.append({"id": f"{trait}-{sign}{abs(strength)}-{w}", "trait": trait,
                             "strength": strength, "system": text})
    return rows


def build_questions():
    return [{"id": f"q{i:03d}", "text": q, "split": split_of(i)} for i, q in enumerate(QUESTIONS)]


def interleave_keyed(plus, minus):
    """+,+,-,-,+,+,... so even (extract) and odd (test) indices each get half of each keying."""
    out = []
    for k in range(0, len(plus), 2):
        out += [(s, "+") for s in plus[k:k + 2]] + [(s, "-") for s in minus[k:k + 2]]
    return out


def build_questionnaire():
    rows = []
    for trait in TRAITS:
        plus, minus = STATEMENTS[trait]
        for i, (stmt, keyed) in enumerate(interleave_keyed(plus, minus)):
            item = f"{trait}-{i:02d}"
            for tname, (tmpl, (agree, disagree)) in TEMPLATES.items():
                high_text = agree if keyed == "+" else disagree
                for order in ("ab", "ba"):
                    a, b = (agree, disagree) if order == "ab" else (disagree, agree)
                    rows.append({
                        "id": f"{item}-{tname}-{order_tag(order)}", "trait": trait, "item": item,
                        "keyed": keyed, "template": tname, "order": order, "split": split_of(i),
                        "messages": [{"role": "user", "content": tmpl.format(s=stmt, a=a, b=b)}],
                        "choices": ["A", "B"], "target": [a, b].index(high_text),
                        "choice_texts": [a, b],
                    })
    return rows


def canonical_high_first(rng):
    """For each trait and split, exactly half (rounded) of the situations show the HIGH option
    as option a in the 'ab' order; which ones is a seeded shuffle."""
    out = {}
    for trait in TRAITS:
        n = len(BEHAVIOUR[trait])
        for parity in (0, 1):
            idx = list(range(parity, n, 2))
            rng.shuffle(idx)
            k = (len(idx) + parity) // 2  # alternate rounding between the splits
            for j, i in enumerate(idx):
                out[(trait, i)] = j < k
    return out


def build_behaviour(rng):
    high_first = canonical_high_first(rng)
    chat, text = [], []
    for trait in TRAITS:
        for i, (situation, high, low) in enumerate(BEHAVIOUR[trait]):
            item = f"{trait}-b{i:02d}"
            base = (high, low) if high_first[(trait, i)] else (low, high)
            for order in ("ab", "ba"):
                a, b = base if order == "ab" else base[::-1]
                target = [a, b].index(high)
                rid = f"{item}-{order_tag(order)}"
                content = f"{situation}\nWhat do you do?\nA) {cap(a)}\nB) {cap(b)}\nAnswer:"
                chat.append({
                    "id": rid, "trait": trait, "item": item, "order": order, "split": split_of(i),
                    "messages": [{"role": "user", "content": content}],
                    "choices": ["A", "B"], "choice_texts": [cap(a), cap(b)], "target": target,
                })
                text.append({
                    "id": rid, "trait": trait, "item": item, "split": split_of(i),
                    "text": f"{situation} You", "choices": [" " + a, " " + b],
                    "target": target, "order": order,
                })
    return chat, text


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
def check(cond, msg):
    if not cond:
        sys.exit(f"validation failed: {msg}")


def unique_ids(rows, name):
    ids = [r["id"] for r in rows]
    dup = {x for x in ids if ids.count(x) > 1}
    check(not dup, f"{name}: duplicate ids {sorted(dup)[:5]}")


def n_sentences(s):
    return len(re.findall(r"[.!?](\s|$)", s))


def validate(personas, graded, questions, quest, beh, beh_text):
    # personas
    unique_ids(personas, "personas")
    check(len({p["system"] for p in personas}) == len(personas), "personas: duplicate text")
    for trait in TRAITS:
        for pole in POLES:
            n = sum(1 for p in personas if p["trait"] == trait and p["pole"] == pole)
            check(n >= MIN_PERSONAS, f"personas: {trait}/{pole} has {n}")
    for p in personas + graded:
        check(p["system"].startswith("You are "), f"{p['id']}: not second person")
        check(1 <= n_sentences(p["system"]) <= 2, f"{p['id']}: not 1-2 sentences")
    # graded
    unique_ids(graded, "graded")
    for trait in TRAITS:
        for s in (-2, -1, 0, 1, 2):
            n = sum(1 for g in graded if g["trait"] == trait and g["strength"] == s)
            check(n == 2, f"graded: {trait}/{s} has {n}")
    # questions
    unique_ids(questions, "questions")
    check(len(questions) >= MIN_QUESTIONS, f"questions: only {len(questions)}")
    check(len({q["text"].lower() for q in questions}) == len(questions), "questions: duplicate text")
    for i, q in enumerate(questions):
        check(q["split"] == split_of(i), f"{q['id']}: split does not alternate")
        check(q["text"].endswith("?"), f"{q['id']}: not a question")
    # questionnaire
    unique_ids(quest, "questionnaire")
    all_stmts = [s for t in TRAITS for s in STATEMENTS[t][0] + STATEMENTS[t][1]]
    check(len(set(all_stmts)) == len(all_stmts), "questionnaire: duplicate statements")
    check(all('"' not in s for s in all_stmts), "questionnaire: statement contains a double quote")
    for trait in TRAITS:
        plus, minus = STATEMENTS[trait]
        check(len(plus) == len(minus), f"questionnaire: {trait} keying not half/half")
        check(len(plus) + len(minus) >= MIN_STATEMENTS, f"questionnaire: {trait} too few statements")
        items = {}
        for r in quest:
            if r["trait"] == trait:
                items.setdefault(r["item"], []).append(r)
        check(len(items) == len(plus) + len(minus), f"questionnaire: {trait} item count")
        for item, rs in items.items():
            check(len(rs) == 6, f"{item}: {len(rs)} rows, expected 6")
            check({(r["template"], r["order"]) for r in rs} ==
                  {(t, o) for t in TEMPLATES for o in ("ab", "ba")}, f"{item}: template/order grid")
            check(len({(r["keyed"], r["split"]) for r in rs}) == 1, f"{item}: keyed/split differ")
        for sp in ("extract", "test"):
            keys = [rs[0]["keyed"] for rs in items.values() if rs[0]["split"] == sp]
            check(keys.count("+") == keys.count("-"), f"questionnaire: {trait}/{sp} keying {keys}")
    for r in quest:
        check(r["target"] in range(len(r["choices"])), f"{r['id']}: target out of range")
        agree, disagree = TEMPLATES[r["template"]][1]
        high = agree if r["keyed"] == "+" else disagree
        check(r["choice_texts"][r["target"]] == high, f"{r['id']}: target is not the high answer")
        c = r["messages"][0]["content"]
        check(f"A) {r['choice_texts'][0]}\nB) {r['choice_texts'][1]}\nAnswer:" in c, f"{r['id']}: options")
    # behaviour
    unique_ids(beh, "behaviour")
    unique_ids(beh_text, "behaviour_text")
    sits = [s for t in TRAITS for s, _, _ in BEHAVIOUR[t]]
    check(len(set(sits)) == len(sits), "behaviour: duplicate situations")
    longer_high = {}
    for trait in TRAITS:
        check(len(BEHAVIOUR[trait]) >= MIN_SITUATIONS, f"behaviour: {trait} has {len(BEHAVIOUR[trait])}")
        n_long = n_short = 0
        for situation, high, low in BEHAVIOUR[trait]:
            for opt in (high, low):
                check(len(opt.split()) <= MAX_OPTION_WORDS, f"option too long: {opt!r}")
                check(opt[0].islower() and opt.endswith("."), f"option form: {opt!r}")
            ratio = max(len(high), len(low)) / min(len(high), len(low))
            check(ratio <= MAX_OPTION_LEN_RATIO, f"options differ in length ({ratio:.2f}): {high!r} / {low!r}")
            check(situation.endswith((".", "?", "'")), f"situation form: {situation!r}")
            n_long += len(high) > len(low)
            n_short += len(high) < len(low)
        longer_high[trait] = n_long / (n_long + n_short)
        lo, hi = LONGER_HIGH_RANGE
        check(lo <= longer_high[trait] <= hi, f"behaviour: {trait} high option longer in "
              f"{longer_high[trait]:.0%} of situations")
    for rows in (beh, beh_text):
        for r in rows:
            check(r["target"] in range(len(r["choices"])), f"{r['id']}: target out of range")
        for trait in TRAITS:
            for sp in ("extract", "test"):
                for order in ("ab", "ba"):
                    sel = [r for r in rows if r["trait"] == trait and r["split"] == sp and r["order"] == order]
                    t0 = sum(r["target"] == 0 for r in sel)
                    check(abs(2 * t0 - len(sel)) <= 1, f"{trait}/{sp}/{order}: target balance {t0}/{len(sel)}")
    for r, t in zip(beh, beh_text):
        high = BEHAVIOUR[r["trait"]][int(r["item"][-2:])][1]
        check(r["choice_texts"][r["target"]] == cap(high), f"{r['id']}: target is not the high option")
        check(t["choices"][t["target"]] == " " + high, f"{t['id']}: text target is not the high option")
        check(t["text"].endswith(" You") and all(c.startswith(" ") for c in t["choices"]), f"{t['id']}: text form")
    for rows in (beh, beh_text):
        check(2 * sum(r["order"] == "ab" for r in rows) == len(rows), "behaviour: order counts")
        check(len(rows) == 2 * sum(len(BEHAVIOUR[t]) for t in TRAITS), "behaviour: row count")
    return longer_high


def write(name, rows):
    with open(HERE / name, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    rng = random.Random(SEED)
    personas = build_personas()
    graded = build_graded()
    questions = build_questions()
    quest = build_questionnaire()
    beh, beh_text = build_behaviour(rng)
    longer_high = validate(personas, graded, questions, quest, beh, beh_text)

    files = {"personas.jsonl": personas, "graded.jsonl": graded, "questions.jsonl": questions,
             "questionnaire.jsonl": quest, "behaviour.jsonl": beh, "behaviour_text.jsonl": beh_text}
    for name, rows in files.items():
        write(name, rows)

    print(f"seed {SEED}; wrote to {HERE}")
    for name, rows in files.items():
        print(f"  {name:22s} {len(rows):5d} rows")
    sp = {s: sum(q["split"] == s for q in questions) for s in ("extract", "test")}
    print(f"questions: {sp['extract']} extract / {sp['test']} test")
    print(f"{'trait':18s} personas(h/l) graded statements(+/-) quest_rows situations beh_rows high_longer")
    for t in TRAITS:
        ph = sum(p["trait"] == t and p["pole"] == "high" for p in personas)
        pl = sum(p["trait"] == t and p["pole"] == "low" for p in personas)
        g = sum(x["trait"] == t for x in graded)
        plus, minus = STATEMENTS[t]
        qr = sum(r["trait"] == t for r in quest)
        br = sum(r["trait"] == t for r in beh)
        print(f"{t:18s} {ph:5d}/{pl:<7d} {g:6d} {len(plus):8d}/{len(minus):<8d} {qr:10d} "
              f"{len(BEHAVIOUR[t]):10d} {br:8d} {longer_high[t]:10.0%}")
    print("all checks passed")


if __name__ == "__main__":
    main()
