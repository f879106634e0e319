def encode(text):
    ids = []
    for chunk in split(text):
	if not chunk:
	    continue
        ids += merge(chunk)  # 4 spaces, then a tab
    return ids


class A:
    pass
