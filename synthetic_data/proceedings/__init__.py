"""The proceedings stage: public and private law cases drawn from the world, their hearings,
orders and durations (the case book), and the Cafcass and Cafcass Cymru records made of them.
"""
