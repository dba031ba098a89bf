"""The Agent Loop's ranking model: trained from recent task outcomes, standard library only."""
