from srgnn_paddle.data.sessions import augment_prefixes, read_session_list, write_session_pickles
sessions = read_session_list("/work/shared/data/diginetica/all_train_seq.txt")  # sorted by date
cut = int(len(sessions) * 0.9)
train, held = sessions[:cut], sessions[cut:]
seen = {i for s in train for i in s}
held = [[i for i in s if i in seen] for s in held]  # as the published preprocessing treats test clicks
held = [s for s in held if len(s) >= 2]
write_session_pickles("/tmp/st/val/diginetica_sessval", train, augment_prefixes(train), augment_prefixes(held))
print(len(train), "training sessions,", len(held), "held-out sessions,", len(augment_prefixes(held)[0]), "pairs")
